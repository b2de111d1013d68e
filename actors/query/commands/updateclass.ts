// updateclass: move a file to another class of its domain; replication follows the new policy.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fileId } from "../../runtime/mongo.ts";

export async function updateFileClass(ctx: QueryContext, a: Parsed<"updateclass">): Promise<Reply<"updateclass">> {
  await ctx.names.requireDomain(a.domain);
  const cls = await ctx.names.getClass(a.domain, a.class).catch((err) => {
    if (err instanceof MogileError && err.code === "unreg_class") throw new MogileError("class_not_found", `class ${a.class} not found in ${a.domain}`);
    throw err;
  });
  const doc = await ctx.store.files.findOne({ _id: fileId(a.domain, a.key) });
  if (!doc) throw new MogileError("invalid_key", `unknown key ${a.key} in domain ${a.domain}`);
  if (doc.class === cls.class) return {};
  if (doc.devids.length === 0) throw new MogileError("no_devices", `fid ${doc.fid} has no copies`);
  // queue the replication first, so a crash between the two cannot leave the file at its old
  // class's copies; the job names the class, and a replicator that finds the old class still
  // recorded waits for the change a little (then acks: the change never happened)
  await ctx.enqueueReplicate({ fid: doc.fid, domain: doc.domain, key: doc.key, class: cls.class, reason: "updateclass", ts: Date.now() }, `repl-${doc.fid}-class-${cls.class}-${Date.now()}`);
  await ctx.store.files.updateOne({ _id: doc._id, fid: doc.fid }, { $set: { class: cls.class } });
  ctx.fileChanged(a.domain, a.key, doc.fid);
  return {};
}
