// create_class: a named replication rule (mindevcount, policy, hash type) inside a domain.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { classId } from "../../runtime/mongo.ts";
import { unlessDuplicate } from "./util.ts";

export async function createClass(ctx: QueryContext, a: Parsed<"create_class">): Promise<Reply<"create_class">> {
  if (!(await ctx.store.domains.findOne({ _id: a.domain }))) throw new MogileError("domain_not_found", `domain ${a.domain} not found`);
  await unlessDuplicate(ctx.store.classes.insertOne({
    _id: classId(a.domain, a.class),
    domain: a.domain,
    class: a.class,
    mindevcount: a.mindevcount,
    replpolicy: a.replpolicy || "MultipleHosts()",
    hashtype: a.hashtype ?? "NONE",
  }), "class_exists", `class ${a.class} already exists in ${a.domain}`);
  return { domain: a.domain, class: a.class, mindevcount: a.mindevcount };
}
