// create_domain: register a namespace for keys.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { unlessDuplicate } from "./util.ts";

export async function createDomain(ctx: QueryContext, a: Parsed<"create_domain">): Promise<Reply<"create_domain">> {
  await unlessDuplicate(ctx.store.domains.insertOne({ _id: a.domain, createdAt: new Date() }), "domain_exists", `domain ${a.domain} already exists`);
  return { domain: a.domain };
}
