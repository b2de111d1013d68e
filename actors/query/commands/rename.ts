// rename: move a file to a new key in the same domain (key_exists if the target is taken).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fileId, type FileDoc } from "../../runtime/mongo.ts";
import { fileByKey, releaseFid, unlessDuplicate } from "./util.ts";

/** how often a rename starts again because the file changed under it (a copy recorded, say) */
const ATTEMPTS = 10;

/**
 * Two documents change, and the store is atomic per document only. So: insert the new key as a
 * copy of the file as read, then remove the old key only if it is still exactly what was read
 * (same revision). Anything that changed the old key meanwhile (an overwrite, a delete, a copy
 * recorded or dropped, a class change) makes that fail: the new key is withdrawn and the rename
 * starts again from the file as it is now, or answers unknown_key if the file is gone. A crash
 * in between leaves the file under both keys, never under none; a fid loses its bytes only once
 * no key names it (checked here, by delete and by the deleter).
 */
export async function rename(ctx: QueryContext, a: Parsed<"rename">): Promise<Reply<"rename">> {
  const fromId = fileId(a.domain, a.from_key);
  const toId = fileId(a.domain, a.to_key);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const doc = (await fileByKey(ctx, a.domain, a.from_key)) as FileDoc & { _rev?: number; _inc?: string };
    if (a.from_key === a.to_key) return {};
    const { _id, _rev, _inc, ...rest } = doc;
    await unlessDuplicate(ctx.store.files.insertOne({ ...rest, _id: toId, key: a.to_key }), "key_exists", `key ${a.to_key} already exists`);
    // the same revision of the same incarnation (a key deleted and written again restarts _rev)
    const moved = await ctx.store.files.deleteOne({ _id: fromId, fid: doc.fid, _rev: _rev ?? { $exists: false }, _inc: _inc ?? { $exists: false } } as Parameters<typeof ctx.store.files.deleteOne>[0]);
    if (moved.deletedCount === 1) {
      ctx.fileChanged(a.domain, a.from_key, doc.fid);
      ctx.fileChanged(a.domain, a.to_key, doc.fid);
      // the new key may have been overwritten or deleted before the old one went: then no key
      // names the fid any more, and nobody else will release it
      await releaseFid(ctx, doc.fid, doc.devids, "replaced");
      return {};
    }
    // the old key changed under us: withdraw the new one (if it is still ours) and look again
    await ctx.store.files.deleteOne({ _id: toId, fid: doc.fid });
    ctx.fileChanged(a.domain, a.to_key, doc.fid);
    await releaseFid(ctx, doc.fid, doc.devids, "delete");
  }
  throw new MogileError("failure", `key ${a.from_key} kept changing during the rename; try again`);
}
