// fsck_start: ask the fsck actor to walk (or keep walking) the files; a finished run, a first run or
// a new domain/class scope starts afresh up to the current highest fid.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { tasks, ensureFsck, rebalanceState, currentMaxFid, nowSec } from "../../runtime/domain/tasks.ts";
import { tasksChanged } from "./fsck_util.ts";

export async function fsckStart(ctx: QueryContext, a: Parsed<"fsck_start">): Promise<Reply<"fsck_start">> {
  const t = tasks(ctx.store);
  if ((await rebalanceState(t))?.running) throw new MogileError("rebal_running", "rebalance running; cannot run fsck at same time");
  if (a.class !== undefined && a.domain === undefined) throw new MogileError("no_domain", "class needs its domain");
  if (a.domain !== undefined) await ctx.names.requireDomain(a.domain);
  if (a.class !== undefined) await ctx.names.getClass(a.domain!, a.class);
  const st = await ensureFsck(t);
  if (st.running) throw new MogileError("fsck_running");
  const domain = a.domain ?? null;
  const cls = a.class ?? null;
  const fresh = st.gen === 0 || st.max_fid_checked >= st.end_fid || domain !== st.domain || cls !== st.class;
  const set = fresh
    ? { running: true, host: null, end_fid: await currentMaxFid(ctx.store), domain, class: cls, counts: {}, checked: 0, rate: 0, total: null, start_time: nowSec(), stop_time: null,
        ...(domain !== st.domain || cls !== st.class ? { max_fid_checked: 0 } : {}) }
    : { running: true, start_time: nowSec(), stop_time: null };
  // only one start wins: the update matches only a document that is not running (or none at all)
  const res = await t.fsck.updateOne({ _id: "fsck", gen: st.gen, running: false }, { $set: { ...set, ...(fresh ? { gen: st.gen + 1 } : {}) } });
  if (res.matchedCount === 0) throw new MogileError("fsck_running");
  ctx.log.info("fsck started", { fresh, domain, class: cls });
  tasksChanged(ctx);
  return {};
}
