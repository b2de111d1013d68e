// update_domain (mogile addition): a domain's access options; options left out keep their value.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import type { DomainDoc } from "../../runtime/mongo.ts";
import { domainOptions } from "../../runtime/domain/domains.ts";
import { namesChanged } from "./util.ts";

export async function updateDomain(ctx: QueryContext, a: Parsed<"update_domain">): Promise<Reply<"update_domain">> {
  const set: Partial<DomainDoc> = {};
  if (a.anonymous_read !== undefined) set.anonymous_read = a.anonymous_read;
  if (a.signed_get !== undefined) {
    set.signed_get = a.signed_get;
    // files stored protected from now on stay so: get_paths keeps signing even once it is off
    if (a.signed_get) set.signed_urls = true;
  }
  const doc = Object.keys(set).length
    ? await ctx.store.domains.findOneAndUpdate({ _id: a.domain }, { $set: set }, { returnDocument: "after" })
    : await ctx.store.domains.findOne({ _id: a.domain });
  if (!doc) throw new MogileError("domain_not_found", `domain ${a.domain} not found`);
  // every query actor sees the change at once (create_open marks new files by it)
  if (Object.keys(set).length) namesChanged(ctx);
  return { domain: a.domain, ...domainOptions(doc) };
}
