// fsck_reset: rewind the checkpoint to `startpos`, set policy_only, refresh the end fid and clear the
// counters. A running fsck carries on from the new position (its older progress writes are ignored).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { tasks, ensureFsck, currentMaxFid } from "../../runtime/domain/tasks.ts";
import { tasksChanged } from "./fsck_util.ts";

export async function fsckReset(ctx: QueryContext, a: Parsed<"fsck_reset">): Promise<Reply<"fsck_reset">> {
  const t = tasks(ctx.store);
  const st = await ensureFsck(t);
  const end = await currentMaxFid(ctx.store);
  const set = { max_fid_checked: a.startpos, policy_only: a.policy_only, end_fid: end, counts: {}, checked: 0, rate: 0, total: null, gen: st.gen + 1 };
  // compare on the generation: a concurrent start or reset wins, this one asks to be repeated
  const res = await t.fsck.updateOne({ _id: "fsck", gen: st.gen }, { $set: set });
  if (res.matchedCount === 0) throw new MogileError("db", "fsck state changed meanwhile; try again");
  ctx.log.info("fsck reset", { startpos: a.startpos, policy_only: a.policy_only, end_fid: end });
  tasksChanged(ctx);
  return {};
}
