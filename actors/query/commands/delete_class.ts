// delete_class: remove a class that no file uses (the default class cannot be deleted).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { classId } from "../../runtime/mongo.ts";
import { DEFAULT_CLASS } from "../../runtime/domain/classes.ts";
import { namesChanged, requireDomainRow } from "./util.ts";

export async function deleteClass(ctx: QueryContext, a: Parsed<"delete_class">): Promise<Reply<"delete_class">> {
  if (a.class === DEFAULT_CLASS) throw new MogileError("nodel_default_class");
  await requireDomainRow(ctx, a.domain);
  const id = classId(a.domain, a.class);
  if (!(await ctx.store.classes.findOne({ _id: id }))) throw new MogileError("class_not_found", `class ${a.class} not found in ${a.domain}`);
  if (await ctx.store.files.findOne({ domain: a.domain, class: a.class }, { projection: { _id: 1 } })) {
    throw new MogileError("class_has_files", `class ${a.class} still has files`);
  }
  await ctx.store.classes.deleteOne({ _id: id });
  namesChanged(ctx);
  return { domain: a.domain, class: a.class };
}
