// fsck_getlog: up to 100 fsck log rows after `after_logid`, oldest first.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { tasks } from "../../runtime/domain/tasks.ts";

export async function fsckGetlog(ctx: QueryContext, a: Parsed<"fsck_getlog">): Promise<Reply<"fsck_getlog">> {
  const docs = await tasks(ctx.store).log.find({ _id: { $gt: a.after_logid } }).sort({ _id: 1 }).limit(100).toArray();
  const rows = docs.map((d) => ({ logid: d._id, utime: d.utime, fid: d.fid, evcode: d.evcode, ...(d.devid !== undefined && d.devid !== null ? { devid: d.devid } : {}) }));
  return { rows, row_count: rows.length };
}
