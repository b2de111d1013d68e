// delete_domain: remove an empty domain (refused while it has files or classes of its own).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { classId } from "../../runtime/mongo.ts";
import { DEFAULT_CLASS } from "../../runtime/domain/classes.ts";
import { namesChanged, requireDomainRow } from "./util.ts";

export async function deleteDomain(ctx: QueryContext, a: Parsed<"delete_domain">): Promise<Reply<"delete_domain">> {
  await requireDomainRow(ctx, a.domain);
  if (await ctx.store.files.findOne({ domain: a.domain }, { projection: { _id: 1 } })) throw new MogileError("domain_has_files", `domain ${a.domain} still has files`);
  if (await ctx.store.classes.findOne({ domain: a.domain, class: { $ne: DEFAULT_CLASS } }, { projection: { _id: 1 } })) {
    throw new MogileError("domain_has_classes", `domain ${a.domain} still has classes`);
  }
  await ctx.store.classes.deleteOne({ _id: classId(a.domain, DEFAULT_CLASS) });
  await ctx.store.domains.deleteOne({ _id: a.domain });
  namesChanged(ctx);
  return { domain: a.domain };
}
