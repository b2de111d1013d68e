// key_list: gateway keys with their scopes, oldest first; never a secret.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { keyInfo, keysCollection } from "../../runtime/keys.ts";

export async function keyList(ctx: QueryContext, a: Parsed<"key_list">): Promise<Reply<"key_list">> {
  // the secret fields are not even read
  const docs = await keysCollection(ctx.store).find(a.include_revoked ? {} : { revoked: false }, { projection: { secret_sealed: 0, verifier: 0 } }).toArray();
  return {
    keys: docs
      // filtered here: keys are few, and a query into an array of documents is not one FerretDB pushes down
      .filter((d) => a.domain === undefined || d.scopes.some((s) => s.domain === a.domain))
      .sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || x._id.localeCompare(y._id))
      .map(keyInfo),
  };
}
