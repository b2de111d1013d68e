// file_debug: everything known about a fid (or a key): its row, locations, checksum, open upload.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fileId, type FileDoc } from "../../runtime/mongo.ts";

export async function fileDebug(ctx: QueryContext, a: Parsed<"file_debug">): Promise<Reply<"file_debug">> {
  let doc: FileDoc | null;
  let fid: number;
  if (a.fid) {
    fid = a.fid;
    doc = await ctx.store.files.findOne({ fid });
  } else {
    if (!a.domain) throw new MogileError("no_domain");
    if (!a.key) throw new MogileError("no_key");
    doc = await ctx.store.files.findOne({ _id: fileId(a.domain, a.key) });
    if (!doc) {
      await ctx.names.requireDomain(a.domain);
      throw new MogileError("unknown_key", `unknown key ${a.key} in domain ${a.domain}`);
    }
    fid = doc.fid;
  }
  const open = await ctx.uploads.peek(fid);
  if (!doc && !open) throw new MogileError("unknown_fid", `fid ${fid} is neither a file nor an open upload`);
  const devids = doc?.devids ?? open?.upload.devids ?? [];
  const devpaths: Record<string, string> = {};
  for (const d of devids) devpaths[d] = ctx.devices.url(d, fid) ?? "";
  return {
    fid, domain: doc?.domain ?? null, key: doc?.key ?? null, class: doc?.class ?? null, length: doc?.length ?? null,
    devids, devpaths, checksum: doc?.checksum ?? "NONE",
    tempfile: open ? { domain: open.upload.domain, key: open.upload.key, class: open.upload.class, devids: open.upload.devids, expires: new Date(open.upload.expiresAt).toISOString() } : null,
  };
}
