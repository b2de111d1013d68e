// list_keys: keys of a domain in order, by prefix, after a key, up to a limit (1000 at most).
import type { QueryContext } from "../context.ts";
import type { ListedFile, Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";

/** the most a details=1 page carries (its keys, lengths, times, etags) */
const DETAILS_MAX_BYTES = 512 * 1024;

export async function listKeys(ctx: QueryContext, a: Parsed<"list_keys">): Promise<Reply<"list_keys">> {
  await ctx.names.requireDomain(a.domain);
  if (a.after !== undefined && a.after !== "" && !a.after.startsWith(a.prefix)) throw new MogileError("after_mismatch");
  const limit = Math.min(a.limit, 1000);
  const range: Record<string, string> = {};
  if (a.prefix) range.$gte = a.prefix;
  if (a.after) range.$gt = a.after;
  const filter = Object.keys(range).length ? { domain: a.domain, key: range } : { domain: a.domain };
  // keys sort by code unit; the prefix test keeps exactly the keys that start with it
  const projection = a.details ? { key: 1, fid: 1, length: 1, createdAt: 1, meta: 1, checksum: 1 } : { key: 1 };
  const docs = await ctx.store.files.find(filter, { projection }).sort({ key: 1 }).limit(limit).toArray();
  const keys: string[] = [];
  const files: ListedFile[] = [];
  // a detailed page stays well under NATS's 1 MiB message limit whatever the keys' lengths
  let bytes = 0;
  let truncated = false;
  for (const d of docs) {
    if (!d.key.startsWith(a.prefix)) break;
    if (a.details) {
      const f: ListedFile = { key: d.key, fid: d.fid, length: d.length, mtime: new Date(d.createdAt).getTime(), ...(d.meta?.etag ? { etag: d.meta.etag } : {}), ...(d.checksum ? { checksum: d.checksum } : {}) };
      bytes += Buffer.byteLength(JSON.stringify(f)) + 1;
      if (bytes > DETAILS_MAX_BYTES) { truncated = true; break; }
      files.push(f);
    } else keys.push(d.key);
  }
  const last = a.details ? files.at(-1)?.key : keys.at(-1);
  if (last === undefined) throw new MogileError("none_match");
  if (a.details) return { keys: [], key_count: files.length, next_after: last, files, ...(truncated ? { truncated } : {}) };
  return { keys, key_count: keys.length, next_after: last };
}
