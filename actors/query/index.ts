// The query actor: every tracker command as a NATS micro-service endpoint (queue group; run N of them).
import { z } from "zod";
import { Svcm, type ServiceMsg } from "@nats-io/services";
import { jetstream } from "@nats-io/jetstream";
import { SERVICE_NAME, SERVICE_QUEUE, subjects } from "../../protocol/subjects.ts";
import { requests, FileChanged, UNSUPPORTED_COMMANDS, type Command } from "../../protocol/schemas.ts";
import { MogileError, httpStatus } from "../../protocol/errors.ts";
import { actorConfig } from "../runtime/config.ts";
import { UPLOAD_RECORD_TTL_MS } from "../runtime/nats.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { DeviceView } from "../runtime/devices.ts";
import { fileId } from "../runtime/mongo.ts";
import { Counters, FidAllocator } from "../runtime/counters.ts";
import { PathCache } from "./cache.ts";
import { NameCache, makeEnqueuers, type QueryContext } from "./context.ts";
import { handlers } from "./commands/index.ts";
import { Uploads } from "../runtime/uploads.ts";
import { parseCommand } from "../../protocol/validate.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { measureEndpoint, slowCommands, type Finish } from "./metrics.ts";

const Config = z.object({
  /** seconds an upload may stay open before the reaper removes it (MogileFS: 3600) */
  MOGILE_UPLOAD_TTL_SEC: z.coerce.number().int().positive().max(UPLOAD_RECORD_TTL_MS / 1000 / 2, "must be at most half the upload bucket's TTL").default(3600),
  /** fids taken from the counter per database write */
  MOGILE_FID_BLOCK: z.coerce.number().int().positive().default(1000),
  /** get_paths cache entries (0 disables the cache) */
  MOGILE_PATH_CACHE: z.coerce.number().int().min(0).default(100_000),
  /** the most bytes a PUT URL from create_open allows when the request gives no `size` (64 GiB) */
  MOGILE_MAX_FILE_BYTES: z.coerce.number().int().positive().default(64 * 1024 ** 3),
  /** seconds the signed read URLs get_paths hands out for signed_get domains stay valid */
  MOGILE_SIGNED_GET_TTL_SEC: z.coerce.number().int().positive().default(3600),
  /** a command answered later than this (ms) is logged as slow (a client's default timeout is 5-10 s) */
  MOGILE_SLOW_COMMAND_MS: z.coerce.number().int().positive().default(3_000),
});

export async function start(actor: ActorContext) {
  const cfg = actorConfig(Config);
  const store = actor.store!;
  const log = actor.log;
  const devices = new DeviceView(store, log);
  await devices.start(actor.nc);
  const cache = new PathCache(cfg.MOGILE_PATH_CACHE || 1, cfg.MOGILE_PATH_CACHE ? 30_000 : 0);
  const js = jetstream(actor.nc);
  const counters = await Counters.open(actor.nc, store);
  const draining = new AbortController();
  const ctx: QueryContext = {
    stopping: draining.signal,
    store, devices, cache, js, log, nc: actor.nc,
    fids: new FidAllocator(counters, cfg.MOGILE_FID_BLOCK),
    counters,
    uploadTtlSec: cfg.MOGILE_UPLOAD_TTL_SEC,
    urls: { key: clusterKey(), maxFileBytes: cfg.MOGILE_MAX_FILE_BYTES, getTtlSec: cfg.MOGILE_SIGNED_GET_TTL_SEC },
    names: new NameCache(store),
    uploads: await Uploads.open(actor.nc),
    ...makeEnqueuers(js, actor.nc, cache),
  };

  // evictions from every query actor (including ourselves) keep get_paths caches honest
  const evictions = actor.nc.subscribe(subjects.fileChanged, {
    callback: (_err, msg) => {
      try {
        const e = FileChanged.parse(msg.json());
        cache.evict(fileId(e.domain, e.key));
      } catch { /* ignore malformed */ }
    },
  });

  // evictions published while this actor was cut off from NATS never reach it: start afresh
  void (async () => {
    for await (const s of actor.nc.status()) if (s.type === "reconnect") { cache.clear(); ctx.names.forget(); }
  })().catch(() => {});

  // another query actor changed domains or classes
  const nameChanges = actor.nc.subscribe(subjects.namesChanged, { callback: () => ctx.names.forget() });

  const svc = await new Svcm(actor.nc).add({
    name: SERVICE_NAME,
    version: "0.1.0",
    description: "mogile tracker commands (MogileFS-compatible)",
    queue: SERVICE_QUEUE,
  });
  let inflight = 0;
  const slow = slowCommands(log, cfg.MOGILE_SLOW_COMMAND_MS);
  // commands that come with a later issue answer a clear error, never a fake success
  for (const command of UNSUPPORTED_COMMANDS) {
    svc.addEndpoint(command, {
      subject: subjects.rpc(command),
      handler: (err, msg) => {
        if (err) return;
        const t0 = performance.now();
        const e = new MogileError("unsupported_command", `${command} is not supported yet`);
        msg.respondError(httpStatus(e.code), e.code, JSON.stringify(e.toJSON()));
        finish(t0, e);
      },
    });
    const finish = measureEndpoint(svc, command);
  }
  for (const command of Object.keys(requests) as Command[]) {
    svc.addEndpoint(command, {
      subject: subjects.rpc(command),
      handler: (err, msg) => {
        if (err) return;
        inflight++;
        serve(ctx, command, msg, performance.now(), (t0, err) => { finish(t0, err); slow(command, performance.now() - t0, err); }).finally(() => inflight--);
      },
    });
    // latency and errors counted when the answer is sent (see metrics.ts), for `nats micro stats` too
    const finish = measureEndpoint(svc, command);
  }
  log.info("serving tracker commands", { service: SERVICE_NAME, commands: Object.keys(requests).length });

  const { stopped, done } = stoppedSignal();
  let stopping = false;
  // the service ending on its own (not through stop()) is a failure of this actor
  svc.stopped.then((err) => { if (!stopping) done(err ?? new Error("service stopped")); }, (err) => done(err as Error));
  return {
    stopped,
    async stop() {
      stopping = true;
      // stop taking requests, then let in-flight ones finish (bounded by the actor's force deadline)
      await svc.stop().catch(() => {});
      draining.abort();
      evictions.unsubscribe();
      nameChanges.unsubscribe();
      devices.stop();
      while (inflight > 0) await new Promise((r) => setTimeout(r, 20));
      done();
    },
  };
}

async function serve(ctx: QueryContext, command: Command, msg: ServiceMsg, t0: number, finish: Finish): Promise<void> {
  try {
    let raw: unknown;
    try {
      raw = msg.data.length ? msg.json() : {};
    } catch {
      throw new MogileError("bad_request", "request body is not JSON");
    }
    const args = parseCommand(command, raw);
    const handler = handlers[command] as (c: QueryContext, a: unknown) => Promise<unknown>;
    const reply = await handler(ctx, args);
    msg.respond(JSON.stringify(reply));
    finish(t0, null);
  } catch (err) {
    const e = err instanceof MogileError ? err : toMogile(err);
    if (e.code === "failure" || e.code === "db") ctx.log.error("command failed", { command, err });
    msg.respondError(httpStatus(e.code), e.code, JSON.stringify(e.toJSON()));
    finish(t0, e);
  }
}

function toMogile(err: unknown): MogileError {
  const e = err as { code?: number; name?: string; message?: string };
  if (e?.code === 11000) return new MogileError("dup");
  if (e?.name?.startsWith("Mongo")) return new MogileError("db", `Database error: ${e.message}`);
  return new MogileError("failure", e?.message ?? String(err));
}

export const spec: ActorSpec = { role: "query", mongo: true, start };
