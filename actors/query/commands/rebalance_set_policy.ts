// rebalance_set_policy: store a rebalance policy (MogileFS grammar) once it parses; not while running.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { parsePolicy } from "../../runtime/domain/rebalance_policy.ts";
import { tasks, ensureRebalance } from "../../runtime/domain/tasks.ts";

export async function rebalanceSetPolicy(ctx: QueryContext, a: Parsed<"rebalance_set_policy">): Promise<Reply<"rebalance_set_policy">> {
  parsePolicy(a.policy);
  const t = tasks(ctx.store);
  await ensureRebalance(t);
  const res = await t.rebalance.updateOne({ _id: "rebalance", running: false }, { $set: { policy: a.policy } });
  if (res.matchedCount === 0) throw new MogileError("no_set_rebal");
  return {};
}
