// fsck_stop: the fsck actor finishes the batch in hand, records its checkpoint and pauses.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { tasks, nowSec } from "../../runtime/domain/tasks.ts";
import { tasksChanged } from "./fsck_util.ts";

export async function fsckStop(ctx: QueryContext, _a: Parsed<"fsck_stop">): Promise<Reply<"fsck_stop">> {
  const res = await tasks(ctx.store).fsck.updateOne({ _id: "fsck", running: true }, { $set: { running: false, stop_time: nowSec() } });
  if (res.modifiedCount) ctx.log.info("fsck stopped");
  tasksChanged(ctx);
  return {};
}
