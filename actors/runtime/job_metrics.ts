// Metrics of the job loops (replicate, delete): outcomes, retries, time per job, jobs in progress,
// and the work queue's depth as JetStream counts it, read at scrape time and cached for a few
// seconds (one consumer-info request, however often the metrics are read).
import type { ConsumerInfo } from "@nats-io/jetstream";
import { counter, gauge, histogram, TRANSFER_BUCKETS } from "./metrics.ts";

const outcomes = counter({
  name: "mogile_jobs_total",
  help: "Jobs settled by this actor: done (acked), retry (to run again after a back-off), failed (given up on, dead-lettered)",
  labelNames: ["kind", "outcome"] as const,
});
const redeliveries = counter({ name: "mogile_job_redeliveries_total", help: "Deliveries of a job after its first (a retry, or a job whose actor died)", labelNames: ["kind"] as const });
const duration = histogram({ name: "mogile_job_duration_seconds", help: "Time one delivery of a job took, from its start to its outcome", labelNames: ["kind"] as const, buckets: TRANSFER_BUCKETS });
const inProgress = gauge({ name: "mogile_jobs_in_progress", help: "Jobs this actor is working on now", labelNames: ["kind"] as const });

/** consumer info is asked for at most this often, and waited for at most QUEUE_TIMEOUT_MS */
const QUEUE_CACHE_MS = 5_000;
const QUEUE_TIMEOUT_MS = 2_000;
/** a depth older than this (the queue's consumer not answering) is dropped */
const QUEUE_STALE_MS = 30_000;
const queues = new Map<string, { info: () => Promise<ConsumerInfo>; last: ConsumerInfo | null; at: number; okAt: number }>();

gauge({
  name: "mogile_job_queue_messages",
  help: "Jobs in a work queue (every actor of a kind reports the same queue: aggregate with max): pending = not delivered yet, ack_pending = delivered and not settled (running, or waiting out a retry back-off), redelivered = delivered more than once and not settled",
  labelNames: ["kind", "state"] as const,
  async collect() {
    this.reset(); // a stopped job loop's queue is no longer reported
    for (const [kind, q] of queues) {
      if (Date.now() - q.at >= QUEUE_CACHE_MS) {
        q.at = Date.now();
        const timeout = new Promise<null>((r) => setTimeout(() => r(null), QUEUE_TIMEOUT_MS).unref());
        const fresh = await Promise.race([q.info().catch(() => null), timeout]);
        if (fresh) { q.last = fresh; q.okAt = q.at; }
      }
      // a queue that has not answered for a while is not reported (rather than a stale depth)
      if (!q.last || Date.now() - q.okAt > QUEUE_STALE_MS) continue;
      this.set({ kind, state: "pending" }, q.last.num_pending);
      this.set({ kind, state: "ack_pending" }, q.last.num_ack_pending);
      this.set({ kind, state: "redelivered" }, q.last.num_redelivered);
    }
  },
});

export type JobResult = "done" | "retry" | "failed";

/** The metrics of one job loop, labels bound once. `info` reads its consumer (queue depth). */
export function jobMetrics(kind: string, info: () => Promise<ConsumerInfo>) {
  queues.set(kind, { info, last: null, at: 0, okAt: 0 });
  const done = outcomes.labels(kind, "done"), retry = outcomes.labels(kind, "retry"), failed = outcomes.labels(kind, "failed");
  const redelivered = redeliveries.labels(kind), dur = duration.labels(kind), running = inProgress.labels(kind);
  return {
    /** a delivery starts; returns its start time */
    start(attempt: number): number {
      running.inc();
      if (attempt > 1) redelivered.inc();
      return performance.now();
    },
    settled(t0: number, result: JobResult): void {
      running.dec();
      dur.observe((performance.now() - t0) / 1000);
      (result === "done" ? done : result === "retry" ? retry : failed).inc();
    },
    stop(): void { queues.delete(kind); },
  };
}
