// The reaper actor (basic): expires uploads that were opened and never closed, and queues their
// bytes for deletion. It scans the open-upload records on a timer; taking one is a
// compare-and-purge, so several reapers (or a racing create_close) never double-act.
import { z } from "zod";
import { jetstream } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import type { DeleteJob } from "../../protocol/schemas.ts";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, sleep, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { Uploads } from "../runtime/uploads.ts";

const Config = z.object({
  /** how often expired uploads are looked for (ms) */
  MOGILE_REAPER_INTERVAL_MS: z.coerce.number().int().positive().default(10_000),
});

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const js = jetstream(ctx.nc);
  const uploads = await Uploads.open(ctx.nc);
  const abort = new AbortController();
  const { stopped, done } = stoppedSignal();
  /** expiry of uploads seen in earlier passes, so unexpired ones are not re-read every pass */
  const seen = new Map<number, number>();

  const pass = async (): Promise<number> => {
    const now = Date.now();
    const fids = await uploads.openFids();
    const live = new Set(fids);
    for (const fid of seen.keys()) if (!live.has(fid)) seen.delete(fid);
    let n = 0;
    for (const fid of fids) {
      if (abort.signal.aborted) break;
      const known = seen.get(fid);
      if (known !== undefined && known > now) continue;
      const rec = await uploads.peek(fid);
      if (!rec) { seen.delete(fid); continue; }
      if (rec.upload.expiresAt > now) { seen.set(fid, rec.upload.expiresAt); continue; }
      // take the record first: if create_close took it, the upload became a real file and stays
      const taken = await uploads.take(fid, rec.revision);
      seen.delete(fid);
      if (!taken) continue;
      const job: DeleteJob = { fid, devids: taken.devids, reason: "expired" };
      await js.publish(subjects.deleteJob, JSON.stringify(job), { msgID: `del-${fid}-expired` });
      n++;
    }
    if (n) ctx.log.info("expired stale uploads", { count: n, stillOpen: fids.length - n });
    return n;
  };

  const loop = (async () => {
    while (!abort.signal.aborted) {
      await pass().catch((err) => ctx.log.warn("reaper pass failed", { err }));
      await sleep(cfg.MOGILE_REAPER_INTERVAL_MS, abort.signal);
    }
  })();
  loop.then(() => done(), (err) => done(err));
  return {
    stopped,
    async stop() {
      abort.abort();
      await stopped;
    },
  };
}

export const spec: ActorSpec = { role: "reaper", mongo: false, start };
