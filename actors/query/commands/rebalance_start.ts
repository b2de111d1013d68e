// rebalance_start: the fsck actor starts (or resumes) evening usage per the policy; not alongside fsck.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { tasks, ensureRebalance, fsckState, nowSec, rebalanceStateString, REBALANCE_DEFAULT } from "../../runtime/domain/tasks.ts";
import { tasksChanged } from "./fsck_util.ts";

export async function rebalanceStart(ctx: QueryContext, _a: Parsed<"rebalance_start">): Promise<Reply<"rebalance_start">> {
  const t = tasks(ctx.store);
  if ((await fsckState(t)).running) throw new MogileError("fsck_running", "fsck running; cannot run rebalance at same time");
  const rs = await ensureRebalance(t);
  if (rs.running) throw new MogileError("rebal_running", "rebalance is already running");
  if (rs.policy == null) throw new MogileError("no_rebal_policy");
  // a finished run starts over; a stopped one resumes with its counters
  const fresh = rs.time_started === null || rs.time_finished !== null;
  const set = fresh
    ? { running: true, gen: rs.gen + 1, sdevs: [], ddevs: [], files_moved: 0, bytes_moved: 0, failed: 0, time_started: nowSec(), time_stopped: null, time_finished: null }
    : { running: true, time_stopped: null };
  const after = await t.rebalance.findOneAndUpdate({ _id: "rebalance", gen: rs.gen, running: false }, { $set: set }, { returnDocument: "after" });
  if (!after) throw new MogileError("rebal_running", "rebalance is already running");
  ctx.log.info("rebalance started", { policy: rs.policy, fresh });
  tasksChanged(ctx);
  return { state: rebalanceStateString({ ...REBALANCE_DEFAULT, ...after }) };
}
