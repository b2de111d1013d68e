// get_paths: URLs of a key's readable copies, best first (cached; first path HEAD-checked unless noverify).
// A signed_get domain's URLs are signed here, at reply time: the cache holds locations, never URLs.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { headLength } from "../../../protocol/http.ts";
import { fileId } from "../../runtime/mongo.ts";
import type { CachedFile } from "../cache.ts";
import { signsReadUrls } from "../../runtime/domain/domains.ts";
import { signUrl } from "../../runtime/urlsign.ts";

const CACHED_META_MAX = 1024;

export async function lookupFile(ctx: QueryContext, domain: string, key: string): Promise<CachedFile> {
  const id = fileId(domain, key);
  const hit = ctx.cache.get(id);
  if (hit) return hit;
  const token = ctx.cache.begin();
  const doc = await ctx.store.files.findOne({ _id: id });
  if (!doc) {
    await ctx.names.requireDomain(domain);
    throw new MogileError("unknown_key", `unknown key ${key} in domain ${domain}`);
  }
  // metadata is cached only when small (bounded memory); bigger is read again when asked for
  const smallMeta = !doc.meta || JSON.stringify(doc.meta).length <= CACHED_META_MAX;
  const value = { fid: doc.fid, length: doc.length, class: doc.class, devids: doc.devids, mtime: new Date(doc.createdAt).getTime(), checksum: doc.checksum ?? null, ...(smallMeta ? { meta: doc.meta } : { bigMeta: true }) };
  ctx.cache.set(id, value, token);
  return { ...value, at: Date.now() };
}

export async function getPaths(ctx: QueryContext, a: Parsed<"get_paths">): Promise<Reply<"get_paths">> {
  const [file, domain] = await Promise.all([lookupFile(ctx, a.domain, a.key), ctx.names.domain(a.domain)]);
  const expires = signsReadUrls(domain) ? Math.floor(Date.now() / 1000) + ctx.urls.getTtlSec : 0;
  const want = Math.max(a.pathcount, 2);
  const paths: string[] = [];
  for (const devid of ctx.devices.orderForRead(file.devids)) {
    if (paths.length >= want) break;
    const plain = ctx.devices.readUrl(devid, file.fid, a.zone);
    if (!plain) continue;
    // a URL signed for GET serves HEAD too, so the check below works for protected copies
    const url = expires ? signUrl(ctx.urls.key, plain, { method: "GET", devid, fid: file.fid, expires }) : plain;
    if (!a.noverify && paths.length === 0) {
      const len = await headLength(url, 2_000).catch(() => null);
      if (len !== file.length) continue;
    }
    paths.push(url);
  }
  // meta=1 (the S3 API): what a read needs besides the paths, from the same (cached) lookup
  if (!a.meta) return { paths, fid: file.fid, length: file.length };
  // metadata too big to cache: read with the fid it belongs to (a newer version has other paths)
  const meta = file.bigMeta ? (await ctx.store.files.findOne({ _id: fileId(a.domain, a.key), fid: file.fid }))?.meta : file.meta;
  return { paths, fid: file.fid, length: file.length, meta: meta ?? {}, mtime: file.mtime ?? 0, ...(file.checksum ? { checksum: file.checksum } : {}) };
}
