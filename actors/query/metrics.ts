// Per-command metrics of the query actor, and its NATS micro endpoint stats measured around the real
// work. @nats-io/services times only the synchronous handler call and counts an error only when it
// throws; our handlers start the work and return, so `nats micro stats mogile-tracker` would show
// ~0 ms and no errors. Each endpoint's stats object is taken over once, after addEndpoint.
import type { Service } from "@nats-io/services";
import { counter, histogram, LATENCY_BUCKETS } from "../runtime/metrics.ts";
import type { Logger } from "../runtime/log.ts";

const requests = counter({ name: "mogile_command_requests_total", help: "Tracker commands answered by this query actor (success or error)", labelNames: ["command"] as const });
const errors = counter({ name: "mogile_command_errors_total", help: "Tracker commands answered with an error, by MogileFS error code", labelNames: ["command", "code"] as const });
const duration = histogram({ name: "mogile_command_duration_seconds", help: "Time from a command's arrival to its answer", labelNames: ["command"] as const, buckets: LATENCY_BUCKETS });

/** What @nats-io/services 3.0.0-25 (pinned) keeps per endpoint (NamedEndpointStatsImpl); times in ns. */
interface EndpointStats {
  num_requests: number;
  processing_time: number;
  average_processing_time: number;
  countLatency(start: number): void;
  countError(err: Error): void;
}

/** Called once per request when its answer has been sent: `t0` from performance.now(), the error answered if any. */
export type Finish = (t0: number, err: Error & { code: string } | null) => void;

/**
 * Take over the stats of endpoint `name` (just added to `svc`): the library's own timing becomes a
 * no-op, and the returned `finish` counts the request, its latency and its error in both the micro
 * stats ($SRV.STATS) and the Prometheus metrics. Throws at start if the library's shape changed.
 */
export function measureEndpoint(svc: Service, name: string): Finish {
  const entry = (svc as unknown as { handlers?: { name: string; stats?: EndpointStats }[] }).handlers?.find((h) => h.name === name);
  const stats = entry?.stats;
  if (!stats || typeof stats.num_requests !== "number" || typeof stats.countError !== "function" || typeof stats.countLatency !== "function") {
    throw new Error(`@nats-io/services keeps no stats for endpoint ${name} where expected: check measureEndpoint against the installed version`);
  }
  // the library's finally around the synchronous call: ours, when the answer is sent, replaces it
  stats.countLatency = () => {};
  const req = requests.labels(name);
  const dur = duration.labels(name);
  return (t0, err) => {
    const ms = performance.now() - t0;
    stats.num_requests++;
    stats.processing_time += Math.round(ms * 1e6);
    stats.average_processing_time = Math.round(stats.processing_time / stats.num_requests);
    req.inc();
    dur.observe(ms / 1000);
    if (err) {
      stats.countError(err);
      errors.inc({ command: name, code: err.code });
    }
  };
}

/** commands that wait by design for as long as they are asked to */
const WAITING = new Set<string>(["sleep"]);

/**
 * A warning for each command answered after `slowMs`, at most one per command every 10 s (the
 * others counted in the next one): an operator sees which command stalled, for how long, and why.
 */
export function slowCommands(log: Logger, slowMs: number, now = () => Date.now()) {
  const last = new Map<string, { at: number; skipped: number }>();
  return (command: string, ms: number, err: Error | null) => {
    if (ms < slowMs || WAITING.has(command)) return;
    const at = now();
    const l = last.get(command) ?? { at: -Infinity, skipped: 0 };
    if (at - l.at < 10_000) { l.skipped++; last.set(command, l); return; }
    log.warn("slow command", { command, ms: Math.round(ms), ...(l.skipped ? { alsoSlowSinceLast: l.skipped } : {}), ...(err ? { err } : {}) });
    last.set(command, { at, skipped: 0 });
  };
}
