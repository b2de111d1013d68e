// delete, file_info and list_keys.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fileId } from "../../runtime/mongo.ts";

export async function deleteFile(ctx: QueryContext, a: Parsed<"delete">): Promise<Reply<"delete">> {
  const doc = await ctx.store.files.findOneAndDelete({ _id: fileId(a.domain, a.key) });
  if (!doc) {
    await ctx.names.requireDomain(a.domain);
    throw new MogileError("unknown_key", `unknown key ${a.key} in domain ${a.domain}`);
  }
  ctx.fileChanged(a.domain, a.key, doc.fid);
  // the key is gone now; the deleter removes the bytes in the background (and retries)
  await ctx.enqueueDelete({ fid: doc.fid, devids: doc.devids, reason: "delete" });
  return {};
}

export async function fileInfo(ctx: QueryContext, a: Parsed<"file_info">): Promise<Reply<"file_info">> {
  const doc = await ctx.store.files.findOne({ _id: fileId(a.domain, a.key) });
  if (!doc) {
    await ctx.names.requireDomain(a.domain);
    throw new MogileError("unknown_key", `unknown key ${a.key} in domain ${a.domain}`);
  }
  return {
    fid: doc.fid, domain: doc.domain, class: doc.class, key: doc.key, length: doc.length,
    devcount: doc.devids.length, ...(a.devices ? { devids: doc.devids } : {}),
  };
}

export async function listKeys(ctx: QueryContext, a: Parsed<"list_keys">): Promise<Reply<"list_keys">> {
  await ctx.names.requireDomain(a.domain);
  if (a.after !== undefined && a.after !== "" && !a.after.startsWith(a.prefix)) throw new MogileError("after_mismatch");
  const limit = Math.min(a.limit, 1000);
  const range: Record<string, string> = {};
  if (a.prefix) { range.$gte = a.prefix; range.$lt = a.prefix + "\uffff"; }
  if (a.after) range.$gt = a.after;
  const filter = Object.keys(range).length ? { domain: a.domain, key: range } : { domain: a.domain };
  const docs = await ctx.store.files.find(filter, { projection: { key: 1 } }).sort({ key: 1 }).limit(limit).toArray();
  const keys = docs.map((d) => d.key).filter((k) => k.startsWith(a.prefix));
  if (keys.length === 0) throw new MogileError("none_match");
  return { keys, key_count: keys.length, next_after: keys[keys.length - 1] };
}
