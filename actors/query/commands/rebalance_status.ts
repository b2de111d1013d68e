// rebalance_status: progress of the current or last rebalance run.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { tasks, rebalanceState, rebalanceStateString } from "../../runtime/domain/tasks.ts";

export async function rebalanceStatus(ctx: QueryContext, _a: Parsed<"rebalance_status">): Promise<Reply<"rebalance_status">> {
  const rs = await rebalanceState(tasks(ctx.store));
  if (!rs || rs.time_started === null) throw new MogileError("no_rebal_state");
  return {
    state: rebalanceStateString(rs), running: rs.running, policy: rs.policy ?? "",
    sdevs: rs.sdevs, ddevs: rs.ddevs, files_moved: rs.files_moved, bytes_moved: rs.bytes_moved, failed: rs.failed,
    time_started: rs.time_started, time_stopped: rs.time_stopped, time_finished: rs.time_finished,
  };
}
