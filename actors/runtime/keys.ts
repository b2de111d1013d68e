// Gateway keys: an access key id plus a secret, scoped per domain (read, write, admin) or cluster-wide
// admin. The secret is kept only encrypted (AES-256-GCM under a key derived from the cluster key), so
// it can be recovered later for S3 signatures (SigV4 needs the secret itself), with an HMAC beside it
// to check a presented secret without decrypting. Secrets are never logged.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { MogileError } from "../../protocol/errors.ts";
import { KEY_ACCESS, KEY_ID_PATTERN, type KeyAccess, type KeyInfo, type KeyScope } from "../../protocol/schemas.ts";
import type { GuardedCollection } from "./atomic.ts";
import type { Store } from "./mongo.ts";

export interface KeyDoc {
  /** the access key id */
  _id: string;
  name: string;
  scopes: KeyScope[];
  cluster_admin: boolean;
  /** the secret sealed with AES-256-GCM: `v1.<iv>.<ciphertext>.<tag>` (base64url), the id as associated data */
  secret_sealed: string;
  /** HMAC-SHA256 of `<id>:<secret>` under a derived key (base64url): verifies a presented secret */
  verifier: string;
  revoked: boolean;
  createdAt: Date;
  revokedAt?: Date | null;
}

export const KEYS_COLLECTION = "keys";
export const keysCollection = (store: Store): GuardedCollection<KeyDoc> => store.collection<KeyDoc>(KEYS_COLLECTION);

// S3-style: a 20-character id (uppercase, like AWS's AKIA…) and a 40-character secret
const ID_PREFIX = "MK";
const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_PATTERN = /^[A-Za-z0-9_-]{40}$/;

export function newKeyId(): string {
  let id = ID_PREFIX;
  while (id.length < 20) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** 30 random bytes = 40 base64url characters (240 bits) */
export const newSecret = (): string => randomBytes(30).toString("base64url");

// ---- crypto: two keys derived from the cluster key, one per purpose ----
const derived = new WeakMap<Buffer, { seal: Buffer; verify: Buffer }>();
function keysOf(clusterKey: Buffer) {
  let k = derived.get(clusterKey);
  if (!k) {
    const derive = (info: string) => Buffer.from(hkdfSync("sha256", clusterKey, Buffer.alloc(0), info, 32));
    k = { seal: derive("mogile gateway key secret v1"), verify: derive("mogile gateway key verifier v1") };
    derived.set(clusterKey, k);
  }
  return k;
}

/** Encrypt a key's secret; the id is bound in as associated data (a sealed secret cannot be moved to another id). */
export function sealSecret(clusterKey: Buffer, id: string, secret: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", keysOf(clusterKey).seal, iv);
  c.setAAD(Buffer.from(id));
  const ct = Buffer.concat([c.update(secret, "utf8"), c.final()]);
  return ["v1", iv, ct, c.getAuthTag()].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
}

/** Decrypt a sealed secret (S3 signatures need it); throws when it was not sealed for `id` under this cluster key. */
export function openSecret(clusterKey: Buffer, id: string, sealed: string): string {
  const [v, iv, ct, tag] = sealed.split(".");
  if (v !== "v1" || !iv || !ct || !tag) throw new Error(`key ${id}: unknown sealed secret format`);
  const d = createDecipheriv("aes-256-gcm", keysOf(clusterKey).seal, Buffer.from(iv, "base64url"));
  d.setAAD(Buffer.from(id));
  d.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([d.update(Buffer.from(ct, "base64url")), d.final()]).toString("utf8");
}

export function secretVerifier(clusterKey: Buffer, id: string, secret: string): string {
  return createHmac("sha256", keysOf(clusterKey).verify).update(`${id}:${secret}`).digest("base64url");
}

/** Whether `secret` is the one `verifier` was made from (constant time). */
export function checkSecret(clusterKey: Buffer, id: string, secret: string, verifier: string): boolean {
  const want = Buffer.from(verifier, "base64url");
  const got = Buffer.from(secretVerifier(clusterKey, id, secret), "base64url");
  return want.length === got.length && timingSafeEqual(want, got);
}

// ---- the credential as presented ----
export interface Credential { id: string; secret: string }

/** `<id>:<secret>` (the Bearer token and the admin.key file); null when it is not one. */
export function parseCredential(text: string): Credential | null {
  const i = text.indexOf(":");
  if (i < 0) return null;
  const id = text.slice(0, i);
  const secret = text.slice(i + 1);
  // anything else is refused before any lookup
  return KEY_ID_PATTERN.test(id) && SECRET_PATTERN.test(secret) ? { id, secret } : null;
}
export const formatCredential = (c: Credential) => `${c.id}:${c.secret}`;

// ---- scopes ----
const rank: Record<KeyAccess, number> = Object.fromEntries(KEY_ACCESS.map((a, i) => [a, i])) as Record<KeyAccess, number>;

/** What a key may do: cluster admins anything; others `access` (or more) on a domain they are scoped to. */
export interface Grant { cluster_admin: boolean; scopes: readonly KeyScope[] }

/** Whether the key may act with `access` on `domain` (write implies read; admin implies write). */
export function allows(key: Grant, domain: string, access: KeyAccess): boolean {
  return key.cluster_admin || key.scopes.some((s) => s.domain === domain && rank[s.access] >= rank[access]);
}

/** One scope per domain, with the highest access given for it. */
export function mergeScopes(scopes: readonly KeyScope[]): KeyScope[] {
  const byDomain = new Map<string, KeyAccess>();
  for (const s of scopes) {
    const had = byDomain.get(s.domain);
    if (had === undefined || rank[s.access] > rank[had]) byDomain.set(s.domain, s.access);
  }
  return [...byDomain].map(([domain, access]) => ({ domain, access }));
}

/** Whether the key has any scope on `domain` (it may see that the domain exists). */
export const seesDomain = (key: Grant, domain: string): boolean => key.cluster_admin || key.scopes.some((s) => s.domain === domain);

// ---- the store ----
export function keyInfo(d: KeyDoc): KeyInfo {
  return {
    id: d._id, name: d.name, scopes: d.scopes, cluster_admin: d.cluster_admin, revoked: d.revoked,
    created: d.createdAt.toISOString(),
    ...(d.revokedAt ? { revoked_at: d.revokedAt.toISOString() } : {}),
  };
}

/**
 * Store a new key. `credential` is given only when the caller already holds one (the launcher's
 * first admin key, written to its file before it is stored); otherwise one is generated.
 */
export async function createKey(
  store: Store, clusterKey: Buffer,
  o: { name: string; scopes: KeyScope[]; cluster_admin: boolean; credential?: Credential },
): Promise<{ info: KeyInfo; credential: Credential }> {
  if (!o.cluster_admin && o.scopes.length === 0) throw new MogileError("bad_params", "a key needs at least one scope, or cluster_admin");
  const keys = keysCollection(store);
  for (let attempt = 1; ; attempt++) {
    const credential = o.credential ?? { id: newKeyId(), secret: newSecret() };
    const doc: KeyDoc = {
      _id: credential.id, name: o.name, scopes: o.scopes, cluster_admin: o.cluster_admin,
      secret_sealed: sealSecret(clusterKey, credential.id, credential.secret),
      verifier: secretVerifier(clusterKey, credential.id, credential.secret),
      revoked: false, createdAt: new Date(),
    };
    try {
      await keys.insertOne(doc);
      return { info: keyInfo(doc), credential };
    } catch (err) {
      // 90 random bits make a taken id all but impossible; a given credential is the caller's to handle
      if ((err as { code?: number }).code !== 11000 || o.credential || attempt >= 3) throw err;
    }
  }
}
