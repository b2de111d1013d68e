// fsck_clearlog: forget every fsck log row (the num_<CODE> counters of the run stay).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { tasks } from "../../runtime/domain/tasks.ts";

export async function fsckClearlog(ctx: QueryContext, _a: Parsed<"fsck_clearlog">): Promise<Reply<"fsck_clearlog">> {
  const res = await tasks(ctx.store).log.deleteMany({});
  return { deleted: res.deletedCount };
}
