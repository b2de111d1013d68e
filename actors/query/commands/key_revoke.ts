// key_revoke: a key stops working for good; gateways drop their cached copy on the event.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { subjects } from "../../../protocol/subjects.ts";
import { keyInfo, keysCollection } from "../../runtime/keys.ts";

export async function keyRevoke(ctx: QueryContext, a: Parsed<"key_revoke">): Promise<Reply<"key_revoke">> {
  const keys = keysCollection(ctx.store);
  // only a live key gets a revocation time; revoking again answers the same
  await keys.updateOne({ _id: a.id, revoked: false }, { $set: { revoked: true, revokedAt: new Date() } });
  const doc = await keys.findOne({ _id: a.id }, { projection: { secret_sealed: 0, verifier: 0 } });
  if (!doc) throw new MogileError("unknown_access_key", `no key ${a.id}`);
  // after the write: a gateway that reloads on this event reads the revoked key (its cache TTL covers a lost event)
  ctx.nc.publish(subjects.keysChanged, JSON.stringify({ id: a.id }));
  ctx.log.info("key revoked", { id: a.id });
  return keyInfo(doc);
}
