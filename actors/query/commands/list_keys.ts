// list_keys: keys of a domain in order, by prefix, after a key, up to a limit (1000 at most).
import type { QueryContext } from "../context.ts";
import type { ListedFile, Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";

export async function listKeys(ctx: QueryContext, a: Parsed<"list_keys">): Promise<Reply<"list_keys">> {
  await ctx.names.requireDomain(a.domain);
  if (a.after !== undefined && a.after !== "" && !a.after.startsWith(a.prefix)) throw new MogileError("after_mismatch");
  const limit = Math.min(a.limit, 1000);
  const range: Record<string, string> = {};
  if (a.prefix) range.$gte = a.prefix;
  if (a.after) range.$gt = a.after;
  const filter = Object.keys(range).length ? { domain: a.domain, key: range } : { domain: a.domain };
  // keys sort by code unit; the prefix test keeps exactly the keys that start with it
  const projection = a.details ? { key: 1, length: 1, createdAt: 1, meta: 1 } : { key: 1 };
  const docs = await ctx.store.files.find(filter, { projection }).sort({ key: 1 }).limit(limit).toArray();
  const keys: string[] = [];
  const files: ListedFile[] = [];
  for (const d of docs) {
    if (!d.key.startsWith(a.prefix)) break;
    keys.push(d.key);
    if (a.details) files.push({ key: d.key, length: d.length, mtime: new Date(d.createdAt).getTime(), ...(d.meta?.etag ? { etag: d.meta.etag } : {}) });
  }
  if (keys.length === 0) throw new MogileError("none_match");
  return { keys, key_count: keys.length, next_after: keys[keys.length - 1], ...(a.details ? { files } : {}) };
}
