// delete: the key vanishes at once; the deleter removes the bytes in the background (and retries).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fileId } from "../../runtime/mongo.ts";
import { releaseFid } from "./util.ts";

export async function deleteFile(ctx: QueryContext, a: Parsed<"delete">): Promise<Reply<"delete">> {
  const doc = await ctx.store.files.findOneAndDelete({ _id: fileId(a.domain, a.key) });
  if (!doc) {
    await ctx.names.requireDomain(a.domain);
    throw new MogileError("unknown_key", `unknown key ${a.key} in domain ${a.domain}`);
  }
  ctx.fileChanged(a.domain, a.key, doc.fid);
  await releaseFid(ctx, doc.fid, doc.devids, "delete", { check: false });
  return {};
}
