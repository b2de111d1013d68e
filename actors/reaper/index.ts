// The reaper actor (basic): expires uploads that were opened and never closed, and queues their
// bytes for deletion. It watches the upload records; taking one is a compare-and-purge, so
// several reapers (or a racing create_close) never double-act.
import { z } from "zod";
import { jetstream } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import type { DeleteJob } from "../../protocol/schemas.ts";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, sleep, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { Uploads } from "../runtime/uploads.ts";

const Config = z.object({
  /** how often expired uploads are looked for (ms) */
  MOGILE_REAPER_INTERVAL_MS: z.coerce.number().int().positive().default(5_000),
});

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const js = jetstream(ctx.nc);
  const uploads = await Uploads.open(ctx.nc);
  const open = new Map<number, { expiresAt: number; revision: number }>();
  const stopWatch = await uploads.watch(
    (u, revision) => open.set(u.fid, { expiresAt: u.expiresAt, revision }),
    (fid) => open.delete(fid),
  );
  const abort = new AbortController();
  const { stopped, done } = stoppedSignal();

  const pass = async (): Promise<number> => {
    const now = Date.now();
    let n = 0;
    for (const [fid, o] of open) {
      if (o.expiresAt > now) continue;
      // take the record first: if create_close took it, the upload became a real file and stays
      const taken = await uploads.take(fid, o.revision);
      open.delete(fid);
      if (!taken) continue;
      const job: DeleteJob = { fid, devids: taken.devids, reason: "expired" };
      await js.publish(subjects.deleteJob, JSON.stringify(job), { msgID: `del-${fid}-expired` });
      n++;
    }
    if (n) ctx.log.info("expired stale uploads", { count: n, stillOpen: open.size });
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
      stopWatch();
      await stopped;
    },
  };
}

export const spec: ActorSpec = { role: "reaper", mongo: false, start };
