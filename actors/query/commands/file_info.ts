// file_info: a key's fid, class, length and copy count (devids with devices=1).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { fileByKey } from "./util.ts";

export async function fileInfo(ctx: QueryContext, a: Parsed<"file_info">): Promise<Reply<"file_info">> {
  const doc = await fileByKey(ctx, a.domain, a.key);
  const cls = await ctx.names.getClass(a.domain, doc.class).catch(() => null);
  return {
    fid: doc.fid, domain: doc.domain, class: doc.class, key: doc.key, length: doc.length,
    devcount: doc.devids.length,
    ...(cls && cls.hashtype !== "NONE" ? { checksum: doc.checksum ?? "MISSING" } : {}),
    ...(a.devices ? { devids: doc.devids } : {}),
    ...(a.meta ? { meta: doc.meta ?? {}, mtime: new Date(doc.createdAt).getTime() } : {}),
  };
}
