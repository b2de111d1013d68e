// key_add: create a gateway key (per-domain scopes or cluster admin); the reply holds the secret, once.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { clusterKey } from "../../runtime/secrets.ts";
import { createKey, mergeScopes } from "../../runtime/keys.ts";
import { requireDomainRow } from "./util.ts";

export async function keyAdd(ctx: QueryContext, a: Parsed<"key_add">): Promise<Reply<"key_add">> {
  if (!a.cluster_admin && a.scopes.length === 0) throw new MogileError("bad_params", "a key needs at least one scope (domain and access) or cluster_admin");
  const scopes = mergeScopes(a.scopes);
  // a typo in a domain name would make a key that can do nothing: refuse it
  for (const s of scopes) await requireDomainRow(ctx, s.domain);
  const { info, credential } = await createKey(ctx.store, clusterKey(), { name: a.name, scopes, cluster_admin: a.cluster_admin });
  // the id only: a secret is never logged
  ctx.log.info("key added", { id: info.id, cluster_admin: info.cluster_admin, domains: scopes.length });
  return { ...info, secret: credential.secret };
}
