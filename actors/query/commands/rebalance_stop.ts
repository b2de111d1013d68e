// rebalance_stop: the fsck actor finishes the moves in hand and stops; rebalance_start resumes.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { tasks, nowSec } from "../../runtime/domain/tasks.ts";
import { tasksChanged } from "./fsck_util.ts";

export async function rebalanceStop(ctx: QueryContext, _a: Parsed<"rebalance_stop">): Promise<Reply<"rebalance_stop">> {
  const res = await tasks(ctx.store).rebalance.updateOne({ _id: "rebalance", running: true }, { $set: { running: false, time_stopped: nowSec() } });
  if (res.matchedCount === 0) throw new MogileError("rebal_not_started");
  ctx.log.info("rebalance stopped");
  tasksChanged(ctx);
  return {};
}
