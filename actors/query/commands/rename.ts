// rename: move a file to a new key in the same domain (key_exists if the target is taken).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fileId } from "../../runtime/mongo.ts";
import { fileByKey, unlessDuplicate } from "./util.ts";

export async function rename(ctx: QueryContext, a: Parsed<"rename">): Promise<Reply<"rename">> {
  const doc = await fileByKey(ctx, a.domain, a.from_key);
  if (a.from_key === a.to_key) return {};
  // insert the new key first, then drop the old one: a crash in between leaves the file under
  // both keys (and delete keeps bytes while any key names the fid), never under none
  const { _id: _old, ...rest } = doc;
  await unlessDuplicate(ctx.store.files.insertOne({ ...rest, _id: fileId(a.domain, a.to_key), key: a.to_key }), "key_exists", `key ${a.to_key} already exists`);
  await ctx.store.files.deleteOne({ _id: doc._id, fid: doc.fid });
  ctx.fileChanged(a.domain, a.from_key, doc.fid);
  ctx.fileChanged(a.domain, a.to_key, doc.fid);
  return {};
}
