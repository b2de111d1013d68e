// create_class: a named replication rule (mindevcount, policy, hash type, durable copies) inside a domain.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { classId } from "../../runtime/mongo.ts";
import { namesChanged, requireDomainRow, unlessDuplicate } from "./util.ts";

export async function createClass(ctx: QueryContext, a: Parsed<"create_class">): Promise<Reply<"create_class">> {
  await requireDomainRow(ctx, a.domain);
  if (a.class === "default" && !(await ctx.store.classes.findOne({ _id: classId(a.domain, "default") }))) {
    // the default class always exists implicitly: creating it means overriding it
    throw new MogileError("class_exists", `class default always exists in ${a.domain}; use update_class`);
  }
  await unlessDuplicate(ctx.store.classes.insertOne({
    _id: classId(a.domain, a.class),
    domain: a.domain,
    class: a.class,
    mindevcount: a.mindevcount,
    replpolicy: a.replpolicy || "MultipleHosts()",
    hashtype: a.hashtype ?? "NONE",
    ...(a.durable_copies !== undefined ? { durable_copies: a.durable_copies } : {}),
  }), "class_exists", `class ${a.class} already exists in ${a.domain}`);
  namesChanged(ctx);
  return { domain: a.domain, class: a.class, mindevcount: a.mindevcount };
}
