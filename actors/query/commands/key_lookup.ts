// key_lookup: what a gateway needs to check a presented key: scopes, state and the secret's verifier;
// key_secret: what the S3 actor needs (the sealed secret).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { keysCollection } from "../../runtime/keys.ts";

export async function keyLookup(ctx: QueryContext, a: Parsed<"key_lookup">): Promise<Reply<"key_lookup">> {
  const doc = await keysCollection(ctx.store).findOne({ _id: a.id }, { projection: { secret_sealed: 0 } });
  if (!doc) throw new MogileError("unknown_access_key", `no key ${a.id}`);
  return { id: doc._id, scopes: doc.scopes, cluster_admin: doc.cluster_admin, revoked: doc.revoked, verifier: doc.verifier };
}

/**
 * key_secret: the key with its secret sealed under the cluster key, for the S3 actor's SigV4 checks.
 * Only the s3 NATS user may call it (deploy/natsauth.ts); the gateway and the classic port refuse it.
 */
export async function keySecret(ctx: QueryContext, a: Parsed<"key_secret">): Promise<Reply<"key_secret">> {
  const doc = await keysCollection(ctx.store).findOne({ _id: a.id });
  if (!doc) throw new MogileError("unknown_access_key", `no key ${a.id}`);
  return { id: doc._id, scopes: doc.scopes, cluster_admin: doc.cluster_admin, revoked: doc.revoked, secret_sealed: doc.secret_sealed };
}
