// The reaper actor: re-queues replication for every file on a device marked dead or unreachable for
// long (lost.ts), and expires
// uploads that were opened and never closed. Several may run; only the holder of the `reaper`
// lease (NATS KV) acts, and another takes over within the lease TTL when it dies.
import { z } from "zod";
import { jetstream } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import type { DeleteJob } from "../../protocol/schemas.ts";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, sleep, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { Uploads } from "../runtime/uploads.ts";
import { Lease } from "../runtime/lease.ts";
import { Recovery } from "./recovery.ts";
import { LostDevices } from "./lost.ts";
import { recoveryMetrics } from "./metrics.ts";

const Config = z.object({
  /** how often expired uploads are looked for (ms) */
  MOGILE_REAPER_INTERVAL_MS: z.coerce.number().int().positive().default(10_000),
  /** how often the devices collection is polled for dead devices (ms); device-change events also wake it */
  MOGILE_REAPER_DEAD_CHECK_MS: z.coerce.number().int().positive().default(5_000),
  /** a device must have been dead this long before its files are requeued (ms): longer than the
   *  device views' reload timer (10 s), so no replicator still counts the dead copy as live */
  MOGILE_REAPER_DEAD_GRACE_MS: z.coerce.number().int().min(0).default(12_000),
  /** files requeued per batch */
  MOGILE_REAPER_BATCH: z.coerce.number().int().positive().default(200),
  /** pause between batches (ms) */
  MOGILE_REAPER_BATCH_PAUSE_MS: z.coerce.number().int().min(0).default(100),
  /** how often a recovered dead device is checked again for files still naming it (ms) */
  MOGILE_REAPER_DEAD_RECHECK_MS: z.coerce.number().int().positive().default(600_000),
});

/** a stream electing a new leader (a NATS node died) answers no-responders for seconds: retry through it */
const PUBLISH_RETRIES = 10;

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const js = jetstream(ctx.nc);
  const uploads = await Uploads.open(ctx.nc);
  const lease = await Lease.open(ctx.nc, "reaper", ctx.instance, ctx.log);
  const recovery = await Recovery.open(ctx.nc, ctx.store!, ctx.log, {
    graceMs: cfg.MOGILE_REAPER_DEAD_GRACE_MS,
    batch: cfg.MOGILE_REAPER_BATCH,
    pauseMs: cfg.MOGILE_REAPER_BATCH_PAUSE_MS,
    recheckMs: cfg.MOGILE_REAPER_DEAD_RECHECK_MS,
  });
  recoveryMetrics(recovery, () => lease.leader);
  const lost = await LostDevices.open(ctx.nc, ctx.store!, ctx.log, { batch: cfg.MOGILE_REAPER_BATCH, pauseMs: cfg.MOGILE_REAPER_BATCH_PAUSE_MS });
  const abort = new AbortController();
  const { stopped, done } = stoppedSignal();
  const acting = () => lease.leader && !abort.signal.aborted;
  /** expiry of uploads seen in earlier passes, by the revision read, so unexpired ones are not re-read every pass */
  const seen = new Map<number, { revision: number; expiresAt: number }>();

  const expireUploads = async (): Promise<number> => {
    const now = Date.now();
    const open = await uploads.openRevisions();
    const live = new Set(open.map((u) => u.fid));
    for (const fid of seen.keys()) if (!live.has(fid)) seen.delete(fid);
    let n = 0;
    for (const { fid, revision } of open) {
      if (!acting()) break;
      const known = seen.get(fid);
      // a record rewritten since (a new revision) is read again
      if (known && known.revision === revision && known.expiresAt > now) continue;
      const rec = await uploads.peek(fid);
      if (!rec) { seen.delete(fid); continue; }
      if (rec.upload.expiresAt > now) { seen.set(fid, { revision: rec.revision, expiresAt: rec.upload.expiresAt }); continue; }
      // take the record first: if create_close took it, the upload became a real file and stays
      const taken = await uploads.takePeeked(rec);
      seen.delete(fid);
      if (!taken) continue;
      const job: DeleteJob = { fid, devids: taken.devids, reason: "expired" };
      await js.publish(subjects.deleteJob, JSON.stringify(job), { msgID: `del-${fid}-expired`, retries: PUBLISH_RETRIES });
      n++;
    }
    if (n) ctx.log.info("expired stale uploads", { count: n, stillOpen: open.length - n });
    return n;
  };

  // a device-state change wakes the recovery loop early (the poll is the backstop)
  let wake: AbortController | null = null;
  const sub = ctx.nc.subscribe(subjects.devicesChanged, { callback: () => { wake?.abort(); } });

  /** runs `work` every `everyMs` while we lead; a follower only waits (the lease loop runs apart) */
  const every = async (everyMs: number, what: string, work: () => Promise<unknown>, wakeable = false) => {
    while (!abort.signal.aborted) {
      if (lease.leader) await work().catch((err) => ctx.log.warn(`${what} failed`, { err }));
      const w = new AbortController();
      if (wakeable) wake = w;
      const onStop = () => w.abort();
      abort.signal.addEventListener("abort", onStop, { once: true });
      // a follower looks again soon: it may have just become leader
      await sleep(lease.leader ? everyMs : Math.min(everyMs, 1_000), w.signal);
      abort.signal.removeEventListener("abort", onStop);
    }
  };

  lease.start();
  const loops = Promise.all([
    every(cfg.MOGILE_REAPER_INTERVAL_MS, "upload expiry pass", expireUploads),
    every(cfg.MOGILE_REAPER_DEAD_CHECK_MS, "dead device pass", () => recovery.pass(acting, abort.signal), true),
    every(cfg.MOGILE_REAPER_DEAD_CHECK_MS, "lost device pass", () => lost.pass(acting, abort.signal)),
  ]);
  // release the lease before reporting stopped: the process closes its connection right after
  loops.then(() => lease.stop()).then(() => done(), (err) => done(err));
  return {
    stopped,
    async stop() {
      abort.abort();
      sub.unsubscribe();
      await stopped.catch(() => {});
    },
  };
}

export const spec: ActorSpec = { role: "reaper", mongo: true, start };
