// The shared loop of job actors: pull from a JetStream work queue, run N jobs at once, classify outcomes.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy, type JsMsg } from "@nats-io/jetstream";
import type { Logger } from "./log.ts";
import type { Store } from "./mongo.ts";
import { z } from "zod";
import { stoppedSignal, backoffMs, type ActorHandle, type ActorContext } from "./actor.ts";
import { DeviceView } from "./devices.ts";
import { jobMetrics } from "./job_metrics.ts";

/** harmless/success → ack; temporary → nak after a growing delay; fatal → term + dead letter */
export type Outcome = { kind: "ack" } | { kind: "retry"; reason: string } | { kind: "fatal"; reason: string };
export const ack: Outcome = { kind: "ack" };
export const retry = (reason: string): Outcome => ({ kind: "retry", reason });
export const fatal = (reason: string): Outcome => ({ kind: "fatal", reason });

/** redelivery after an actor died holding a job (ms), and how often a running job says it is alive */
const ACK_WAIT_MS = 15_000;
const ALIVE_MS = 5_000;

export interface JobLoopOptions<J> {
  nc: NatsConnection;
  store: Store;
  log: Logger;
  stream: string;
  consumer: string;
  kind: string;
  concurrency: number;
  parse(data: Uint8Array): J;
  fid(job: J): number;
  /** `seq`: the job's stream sequence, the same on every delivery of it */
  handle(job: J, attempt: number, seq: number): Promise<Outcome>;
  /** nak delays by attempt */
  retryScheduleMs: readonly number[];
  maxDeliver: number;
}

export async function startJobLoop<J>(o: JobLoopOptions<J>): Promise<ActorHandle & { stats: { done: number; retried: number; failed: number } }> {
  const jsm = await jetstreamManager(o.nc);
  await jsm.consumers.add(o.stream, {
    durable_name: o.consumer,
    ack_policy: AckPolicy.Explicit,
    // a job whose actor died (kill -9) goes to another one after this; a live job in progress
    // says so every ALIVE_MS (working()), so a long copy is not redelivered meanwhile
    ack_wait: ACK_WAIT_MS * 1_000_000,
    max_deliver: o.maxDeliver + 5, // we term() ourselves at maxDeliver; the server bound is a backstop
    max_ack_pending: 10_000,
  }).catch(async (err) => {
    // already exists (or created concurrently): bring an older consumer's ack_wait up to date
    await jsm.consumers.update(o.stream, o.consumer, { ack_wait: ACK_WAIT_MS * 1_000_000 })
      .catch(() => jsm.consumers.info(o.stream, o.consumer).catch(() => { throw err; }));
  });
  const js = jetstream(o.nc);
  const consumer = await js.consumers.get(o.stream, o.consumer);
  const { stopped, done } = stoppedSignal();
  const stats = { done: 0, retried: 0, failed: 0 };
  const metrics = jobMetrics(o.kind, () => consumer.info());
  // fetch no more than we run at once: a prefetched job waiting behind slow ones would outlive ack_wait
  const messages = await consumer.consume({ max_messages: o.concurrency, expires: 5_000 });
  const inflight = new Set<Promise<void>>();
  let draining = false;

  const settle = async (m: JsMsg) => {
    const attempt = m.info.deliveryCount;
    let job: J;
    try {
      job = o.parse(m.data);
    } catch (err) {
      o.log.error("malformed job; dropped", { kind: o.kind, err });
      m.term("malformed");
      return;
    }
    let outcome: Outcome;
    // a long job (a big copy) tells JetStream it is alive, so it is not redelivered meanwhile
    const alive = setInterval(() => m.working(), ALIVE_MS);
    const t0 = metrics.start(attempt);
    try {
      outcome = await o.handle(job, attempt, m.seq);
    } catch (err) {
      outcome = retry(err instanceof Error ? err.message : String(err));
    } finally {
      clearInterval(alive);
    }
    if (outcome.kind === "retry" && attempt >= o.maxDeliver) outcome = fatal(`gave up after ${attempt} attempts: ${outcome.reason}`);
    metrics.settled(t0, outcome.kind === "ack" ? "done" : outcome.kind === "retry" ? "retry" : "failed");
    switch (outcome.kind) {
      case "ack":
        stats.done++;
        m.ack();
        break;
      case "retry": {
        stats.retried++;
        const delay = backoffMs(attempt, o.retryScheduleMs);
        o.log.warn(`${o.kind} job will retry`, { fid: o.fid(job), attempt, delayMs: delay, reason: outcome.reason });
        m.nak(delay);
        break;
      }
      case "fatal":
        stats.failed++;
        o.log.error(`${o.kind} job failed for good`, { fid: o.fid(job), attempt, reason: outcome.reason });
        // record first, so an operator can always find what was given up on
        await o.store.deadletters.updateOne(
          { _id: `${o.kind}:${o.fid(job)}` },
          { $set: { kind: o.kind, fid: o.fid(job), error: outcome.reason, at: new Date(), deliveries: attempt } },
          { upsert: true },
        ).catch((err) => o.log.error("could not record dead letter", { err }));
        m.term(outcome.reason);
        break;
    }
  };

  const loop = (async () => {
    for await (const m of messages) {
      if (draining) { m.nak(); continue; }
      const p = settle(m).catch((err) => o.log.error("job settle failed", { err })).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= o.concurrency) await Promise.race(inflight);
    }
  })();
  loop.then(async () => { await Promise.all(inflight); done(); }, (err) => done(err)).finally(() => metrics.stop());

  return {
    stats,
    stopped,
    async stop() {
      draining = true;
      await messages.close().catch(() => {});
      await stopped.catch(() => {});
    },
  };
}

/** A comma-separated list of retry delays (ms) from the environment; unset → the actor's default. */
export const retryScheduleEnv = z.string().optional().transform((v) => (v ? v.split(",").map(Number).filter((n) => n > 0) : undefined));

/**
 * The whole of a job actor: a device view plus the job loop; stopping drains the loop, then the view.
 * `handle` gets the device view the loop keeps fresh.
 */
export async function startJobActor<J>(
  ctx: ActorContext,
  o: Omit<JobLoopOptions<J>, "nc" | "store" | "log" | "handle"> & { handle(job: J, attempt: number, devices: DeviceView, seq: number): Promise<Outcome> },
): Promise<ActorHandle> {
  const devices = new DeviceView(ctx.store!, ctx.log);
  await devices.start(ctx.nc);
  const loop = await startJobLoop({ ...o, nc: ctx.nc, store: ctx.store!, log: ctx.log, handle: (job, attempt, seq) => o.handle(job, attempt, devices, seq) });
  return {
    stopped: loop.stopped,
    async stop() {
      await loop.stop();
      devices.stop();
    },
  };
}
