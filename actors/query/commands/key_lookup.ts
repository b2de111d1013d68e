// key_lookup: what a gateway needs to check a presented key: scopes, state and the secret's verifier.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { keysCollection } from "../../runtime/keys.ts";

export async function keyLookup(ctx: QueryContext, a: Parsed<"key_lookup">): Promise<Reply<"key_lookup">> {
  const doc = await keysCollection(ctx.store).findOne({ _id: a.id }, { projection: { secret_sealed: 0 } });
  if (!doc) throw new MogileError("unknown_access_key", `no key ${a.id}`);
  return { id: doc._id, scopes: doc.scopes, cluster_admin: doc.cluster_admin, revoked: doc.revoked, verifier: doc.verifier };
}
