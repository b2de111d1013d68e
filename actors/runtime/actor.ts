// Actor lifecycle: start → running → draining → stopped; SIGTERM/SIGINT drain with a force deadline.
import type { NatsConnection } from "@nats-io/transport-node";
import { commonConfig, type CommonConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { connectNats, ensureJetStream } from "./nats.ts";
import { openStore, type Store } from "./mongo.ts";
import { startMetrics } from "./metrics.ts";

export interface ActorHandle {
  /** begin draining; resolves when stopped */
  stop(err?: Error): Promise<void>;
  stopped: Promise<void>;
}

export interface ActorContext {
  role: string;
  instance: string;
  log: Logger;
  config: CommonConfig;
  nc: NatsConnection;
  /** null for actors that declared they need no metadata store */
  store: Store | null;
}

export interface ActorSpec {
  role: string;
  mongo: boolean;
  /** false for actors that use no JetStream stream or bucket (their NATS users may not look) */
  jetstream?: boolean;
  start(ctx: ActorContext): Promise<ActorHandle>;
}

/** Builds the context (connections), starts the actor, and wires signals. Used by bin/actor.ts. */
export async function runActor(spec: ActorSpec, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = commonConfig(env);
  const log = createLogger({ role: spec.role, instance: config.MOGILE_INSTANCE });
  process.on("unhandledRejection", (err) => onUnhandledRejection(err, log));
  const nc = await connectNats(config.MOGILE_NATS_URL, `mogile-${spec.role}-${config.MOGILE_INSTANCE}`, log, {}, env, spec.role);
  if (spec.jetstream !== false) await ensureJetStream(nc);
  const store = spec.mongo ? await openStore(config.MOGILE_MONGO_URL, config.MOGILE_DB, log) : null;
  // before the actor starts, so a slow start can be watched too
  const metrics = await startMetrics({ role: spec.role, instance: config.MOGILE_INSTANCE, nc, log, env });
  const handle = await spec.start({ role: spec.role, instance: config.MOGILE_INSTANCE, log, config, nc, store });
  log.info("started", { pid: process.pid });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("draining", { signal });
    const force = setTimeout(() => {
      log.error("drain deadline passed; forcing exit", { graceMs: config.MOGILE_STOP_GRACE_MS });
      process.exit(1);
    }, config.MOGILE_STOP_GRACE_MS);
    force.unref();
    handle.stop().catch((err) => log.error("stop failed", { err }));
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // the actor also stops itself if its NATS connection closes for good
  nc.closed().then(() => shutdown("nats-closed")).catch(() => {});

  let failed = false;
  try {
    await handle.stopped;
  } catch (err) {
    failed = true;
    log.error("failed", { err });
  }
  await metrics.stop().catch(() => {});
  await nc.drain().catch(() => {});
  await store?.close().catch(() => {});
  log.info("stopped");
  process.exit(failed ? 1 : 0);
}

/**
 * A rejection nobody listens to. nats.js arms a timer per request and subscription; under heavy
 * load a few of its timers have fired with no listener left (no stack: async traces are off), which
 * would take the whole tracker down while the request that owned it has already been answered
 * or failed on its own. Those are logged; anything else is a bug in our code and still fatal.
 */
export function onUnhandledRejection(err: unknown, log: Logger): void {
  if (err instanceof Error && err.name === "TimeoutError" && !/\(\/.*actors\//.test(err.stack ?? "")) {
    log.warn("a NATS client timer fired with no listener; ignored", { err: err.message });
    return;
  }
  log.error("unhandled rejection; exiting", { err });
  process.exit(1);
}

/** A deferred promise plus a once-only settle, for `stopped`. */
export function stoppedSignal(): { stopped: Promise<void>; done(err?: Error): void } {
  let resolve!: () => void, reject!: (e: Error) => void;
  const stopped = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  let settled = false;
  return {
    stopped,
    done(err?: Error) {
      if (settled) return;
      settled = true;
      if (err) reject(err); else resolve();
    },
  };
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Back-off with ±20% jitter: schedule[attempt] (last entry repeats). */
export function backoffMs(attempt: number, scheduleMs: readonly number[]): number {
  const base = scheduleMs[Math.min(Math.max(attempt - 1, 0), scheduleMs.length - 1)];
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
