// fsck_status: the run's state, checkpoint and event counts, plus its rate and the files left.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { tasks, fsckState, nowSec } from "../../runtime/domain/tasks.ts";

export async function fsckStatus(ctx: QueryContext, _a: Parsed<"fsck_status">): Promise<Reply<"fsck_status">> {
  const t = tasks(ctx.store);
  const st = await fsckState(t);
  const [last] = await ctx.store.counters.find({ _id: "fscklog" }).toArray();
  return {
    running: st.running, host: st.host, max_fid_checked: st.max_fid_checked, policy_only: st.policy_only, end_fid: st.end_fid,
    start_time: st.start_time, stop_time: st.stop_time, current_time: nowSec(), max_logid: last?.next ?? 0,
    counts: st.counts ?? {},
    domain: st.domain, class: st.class, checked: st.checked, rate: st.running ? st.rate : 0,
    remaining: st.total === null ? null : Math.max(0, st.total - st.checked),
  };
}
