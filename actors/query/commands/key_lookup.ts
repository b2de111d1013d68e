// key_lookup: what a gateway needs to check a presented key: scopes, state and the secret's verifier
// (and, asked with sealed=1, the sealed secret SigV4 checks need).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { keysCollection } from "../../runtime/keys.ts";

export async function keyLookup(ctx: QueryContext, a: Parsed<"key_lookup">): Promise<Reply<"key_lookup">> {
  const doc = await keysCollection(ctx.store).findOne({ _id: a.id }, a.sealed ? {} : { projection: { secret_sealed: 0 } });
  if (!doc) throw new MogileError("unknown_access_key", `no key ${a.id}`);
  return {
    id: doc._id, scopes: doc.scopes, cluster_admin: doc.cluster_admin, revoked: doc.revoked, verifier: doc.verifier,
    // sealed under the cluster key: only a holder of that key (the S3 actor) can open it
    ...(a.sealed ? { secret_sealed: doc.secret_sealed } : {}),
  };
}
