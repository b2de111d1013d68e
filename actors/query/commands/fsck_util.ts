// Helpers shared by the fsck_* and rebalance_* handlers.
import { subjects } from "../../../protocol/subjects.ts";
import type { QueryContext } from "../context.ts";

/** fsck or rebalance state changed: the fsck actor wakes up instead of waiting for its next look. */
export function tasksChanged(ctx: QueryContext): void {
  ctx.nc.publish(subjects.tasksChanged, "{}");
}
