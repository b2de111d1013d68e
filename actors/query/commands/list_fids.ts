// list_fids: files by fid ascending after `from`; `to` is a count (MogileFS quirk), at most 500.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

export async function listFids(ctx: QueryContext, a: Parsed<"list_fids">): Promise<Reply<"list_fids">> {
  const count = a.to > 500 || a.to < 0 ? 500 : a.to;
  const docs = count === 0 ? [] : await ctx.store.files.find({ fid: { $gt: a.from } }).sort({ fid: 1 }).limit(count).toArray();
  const fids = docs.map((d) => ({ fid: d.fid, domain: d.domain, class: d.class, key: d.key, length: d.length, devcount: d.devids.length }));
  return { fids, fid_count: fids.length };
}
