// update_class: change a class's mindevcount (and policy / hash type / durable copies when given);
// with dry_run=1, report what the change would do to the class's files instead (nothing changes).
import type { QueryContext } from "../context.ts";
import { DEFAULT_REPL_POLICY, type Parsed, type Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { classId } from "../../runtime/mongo.ts";
import { DEFAULT_CLASS, defaultClassRow } from "../../runtime/domain/classes.ts";
import { namesChanged, requireDomainRow } from "./util.ts";
import { classChangeDryRun } from "./update_class_dry_run.ts";

export async function updateClass(ctx: QueryContext, a: Parsed<"update_class">): Promise<Reply<"update_class">> {
  await requireDomainRow(ctx, a.domain);
  const id = classId(a.domain, a.class);
  if (a.dry_run) {
    const current = (await ctx.store.classes.findOne({ _id: id })) ?? (a.class === DEFAULT_CLASS ? defaultClassRow(a.domain) : null);
    if (!current) throw new MogileError("class_not_found", `class ${a.class} not found in ${a.domain}`);
    return { domain: a.domain, class: a.class, mindevcount: a.mindevcount, dry_run: await classChangeDryRun(ctx, a, current) };
  }
  const set: Record<string, unknown> = { mindevcount: a.mindevcount };
  if (a.replpolicy !== undefined) set.replpolicy = a.replpolicy || DEFAULT_REPL_POLICY;
  if (a.hashtype !== undefined) set.hashtype = a.hashtype;
  if (a.durable_copies !== undefined) set.durable_copies = a.durable_copies;
  if (a.async_copies !== undefined) set.async_copies = a.async_copies;
  if (a.class === DEFAULT_CLASS) {
    // the implicit default class gets a row the first time it is changed: what is not set keeps its implicit value
    const { _id, mindevcount, ...implicit } = defaultClassRow(a.domain);
    const onInsert = Object.fromEntries(Object.entries(implicit).filter(([k]) => !(k in set)));
    await ctx.store.classes.updateOne({ _id: id }, { $set: set, $setOnInsert: onInsert }, { upsert: true });
  } else {
    const r = await ctx.store.classes.updateOne({ _id: id }, { $set: set });
    if (r.matchedCount === 0) throw new MogileError("class_not_found", `class ${a.class} not found in ${a.domain}`);
  }
  namesChanged(ctx);
  return { domain: a.domain, class: a.class, mindevcount: a.mindevcount };
}
