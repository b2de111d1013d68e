// rebalance_reset: forget the last run's progress (the policy stays); not while running.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { tasks, ensureRebalance } from "../../runtime/domain/tasks.ts";

export async function rebalanceReset(ctx: QueryContext, _a: Parsed<"rebalance_reset">): Promise<Reply<"rebalance_reset">> {
  const t = tasks(ctx.store);
  const rs = await ensureRebalance(t);
  const res = await t.rebalance.updateOne({ _id: "rebalance", running: false }, {
    $set: { gen: rs.gen + 1, sdevs: [], ddevs: [], files_moved: 0, bytes_moved: 0, failed: 0, time_started: null, time_stopped: null, time_finished: null },
  });
  if (res.matchedCount === 0) throw new MogileError("rebal_running");
  return {};
}
