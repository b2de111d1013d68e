// create_class: a named replication rule (mindevcount, policy, hash type, durable copies) inside a domain.
import type { QueryContext } from "../context.ts";
import { DEFAULT_REPL_POLICY, type Parsed, type Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { classId } from "../../runtime/mongo.ts";
import { DEFAULT_CLASS, DEFAULT_HASHTYPE } from "../../runtime/domain/classes.ts";
import { namesChanged, requireDomainRow, unlessDuplicate } from "./util.ts";

export async function createClass(ctx: QueryContext, a: Parsed<"create_class">): Promise<Reply<"create_class">> {
  await requireDomainRow(ctx, a.domain);
  if (a.class === DEFAULT_CLASS && !(await ctx.store.classes.findOne({ _id: classId(a.domain, DEFAULT_CLASS) }))) {
    // the default class always exists implicitly: creating it means overriding it
    throw new MogileError("class_exists", `class default always exists in ${a.domain}; use update_class`);
  }
  await unlessDuplicate(ctx.store.classes.insertOne({
    _id: classId(a.domain, a.class),
    domain: a.domain,
    class: a.class,
    mindevcount: a.mindevcount,
    replpolicy: a.replpolicy || DEFAULT_REPL_POLICY,
    hashtype: a.hashtype ?? DEFAULT_HASHTYPE,
    ...(a.durable_copies !== undefined ? { durable_copies: a.durable_copies } : {}),
    ...(a.async_copies ? { async_copies: true } : {}),
  }), "class_exists", `class ${a.class} already exists in ${a.domain}`);
  namesChanged(ctx);
  return { domain: a.domain, class: a.class, mindevcount: a.mindevcount };
}
