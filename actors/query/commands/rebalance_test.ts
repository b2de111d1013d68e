// rebalance_test: the plan a rebalance would start with, computed now and moving nothing: source and
// destination devices, and the files and bytes that would move (within the policy's limit).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { parsePolicy } from "../../runtime/domain/rebalance_policy.ts";
import { deviceInfo, filesOn, plan } from "../../runtime/domain/rebalance.ts";
import { tasks, rebalanceState } from "../../runtime/domain/tasks.ts";

export async function rebalanceTest(ctx: QueryContext, _a: Parsed<"rebalance_test">): Promise<Reply<"rebalance_test">> {
  const rs = await rebalanceState(tasks(ctx.store));
  if (rs?.policy == null) throw new MogileError("no_rebal_policy");
  const policy = parsePolicy(rs.policy);
  await ctx.devices.reload();
  const devs = await deviceInfo(ctx.devices, ctx.store);
  const p = await plan(devs, policy, {
    maxMoves: Number.MAX_SAFE_INTEGER,
    moved: { files: 0, bytes: 0 },
    hostOf: (devid) => ctx.devices.devices.get(devid)?.hostid,
    filesOf: (devid) => filesOn(ctx.store, devid, policy.fidAge),
  });
  return { sdevs: p.sdevs, ddevs: p.ddevs, files: p.files, bytes: p.bytes };
}
