// The first admin key: a cluster-admin gateway key created at the cluster's first start and kept as
// `<id>:<secret>` in <data dir>/secrets/admin.key (mode 0600) for the launcher, the CLI and tests.
// `npm start` prints it once, when it was just created.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Store } from "../actors/runtime/mongo.ts";
import { checkSecret, createKey, formatCredential, keysCollection, newKeyId, newSecret, parseCredential } from "../actors/runtime/keys.ts";
import { ensureSecretsDir, secretsDir, writeSecretOnce } from "./secrets.ts";

export const adminKeyFile = (dataDir: string) => path.join(secretsDir(dataDir), "admin.key");

export interface AdminKey {
  /** `<id>:<secret>`, the bearer token */
  credential: string;
  file: string;
  /** created by this start (print it once) */
  created: boolean;
  /** why the key in the file does not work (revoked, another cluster key), if it does not */
  problem?: string;
}

/**
 * The admin key of this data dir, created if there is none. The file is written before the key is
 * stored: a crash in between leaves a file whose key is stored at the next start, never a stored
 * admin key nobody holds.
 */
export async function ensureAdminKey(store: Store, dataDir: string, clusterKey: Buffer): Promise<AdminKey> {
  const file = adminKeyFile(dataDir);
  let created = false;
  if (!existsSync(file)) {
    ensureSecretsDir(dataDir);
    writeSecretOnce(file, formatCredential({ id: newKeyId(), secret: newSecret() }) + "\n");
    created = true;
  }
  // read back: another launcher on the same data dir may have written it first
  const text = readFileSync(file, "utf8").trim();
  const cred = parseCredential(text);
  if (!cred) throw new Error(`${file} does not hold a key as <access key id>:<secret>; move it away to have a new admin key made`);
  const doc = await keysCollection(store).findOne({ _id: cred.id });
  let problem: string | undefined;
  if (!doc) {
    await createKey(store, clusterKey, { name: "first admin key (npm start)", scopes: [], cluster_admin: true, credential: cred })
      .catch((err) => { if ((err as { code?: number }).code !== 11000) throw err; });
  } else if (doc.revoked) {
    problem = "it was revoked: put another cluster-admin key there (mogile key add --cluster-admin)";
  } else if (!checkSecret(clusterKey, cred.id, cred.secret, doc.verifier)) {
    problem = "its secret does not match the stored key (another cluster key?)";
  } else if (!doc.cluster_admin) {
    problem = "it is not a cluster-admin key";
  }
  return { credential: text, file, created, problem };
}
