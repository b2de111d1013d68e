// Who is calling the S3 API: the access key id of a SigV4 signature is a gateway key (same ids,
// secrets and scopes); its secret is looked up sealed (key_lookup sealed=1), opened with the cluster
// key and cached briefly (dropped at once when the key changes). Anonymous requests may only read a
// domain with anonymous_read.
import { MogileError } from "../../protocol/errors.ts";
import type { KeyAccess, KeyScope } from "../../protocol/schemas.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { allows, openSecret, seesDomain } from "../runtime/keys.ts";
import { S3Error, s3err } from "./errors.ts";

export type Caller = { kind: "anonymous" } | { kind: "key"; id: string; cluster_admin: boolean; scopes: KeyScope[] };
interface KeyRecord { id: string; secret: string; cluster_admin: boolean; scopes: KeyScope[]; revoked: boolean }

const MAX_CACHED = 10_000;
const NEGATIVE_CACHE_MS = 1_000;

export class S3Keys {
  private keys = new Map<string, { rec: KeyRecord | null; until: number }>();
  private epoch = 0;
  private anonymous: { domains: Set<string>; until: number } | null = null;

  constructor(private readonly client: Pick<MogileClient, "rpc">, private readonly clusterKey: Buffer, private readonly cacheMs: number) {}

  /** The key behind an access key id, with its secret; InvalidAccessKeyId when unknown or revoked. */
  async key(id: string): Promise<KeyRecord> {
    const hit = this.keys.get(id);
    let rec: KeyRecord | null;
    if (hit && hit.until > Date.now()) rec = hit.rec;
    else {
      const epoch = this.epoch;
      rec = await this.client.rpc("key_secret", { id }, 5_000).then(
        (r) => ({ id: r.id, secret: openSecret(this.clusterKey, r.id, r.secret_sealed ?? ""), cluster_admin: r.cluster_admin, scopes: r.scopes, revoked: r.revoked }),
        (err) => {
          if (err instanceof MogileError && (err.code === "unknown_access_key" || err.code === "bad_args" || err.code === "bogus_args")) return null;
          throw err;
        },
      );
      // an unknown id is remembered only briefly (a key created a moment later must work soon,
      // and a flood of made-up ids must not cost a lookup each)
      if (epoch === this.epoch) {
        if (this.keys.size >= MAX_CACHED) this.keys.delete(this.keys.keys().next().value!);
        this.keys.set(id, { rec, until: Date.now() + (rec ? this.cacheMs : Math.min(this.cacheMs, NEGATIVE_CACHE_MS)) });
      }
    }
    if (!rec || rec.revoked) throw new S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", { AWSAccessKeyId: id });
    return rec;
  }

  forget(id?: string): void {
    this.epoch++;
    if (id === undefined) this.keys.clear();
    else this.keys.delete(id);
  }

  forgetDomains(): void { this.anonymous = null; }

  async anonymousRead(domain: string): Promise<boolean> {
    if (!this.anonymous || this.anonymous.until < Date.now()) {
      const { domains } = await this.client.rpc("get_domains", {}, 5_000);
      this.anonymous = { domains: new Set(domains.filter((d) => d.anonymous_read === true).map((d) => d.domain)), until: Date.now() + this.cacheMs };
    }
    return this.anonymous.domains.has(domain);
  }
}

/** What a request needs: a cluster-admin key, any key, or `access` on a bucket (domain). */
export type Need = { kind: "cluster" } | { kind: "key" } | { kind: "bucket"; access: KeyAccess; bucket: string };

export async function authorize(keys: S3Keys, who: Caller, need: Need): Promise<void> {
  if (who.kind === "key") {
    if (who.cluster_admin || need.kind === "key") return;
    if (need.kind === "cluster") throw s3err.accessDenied("this needs a cluster-admin key");
    if (allows(who, need.bucket, need.access)) return;
    if (need.access === "read" && (await keys.anonymousRead(need.bucket))) return;
    throw s3err.accessDenied(`this key has no ${need.access} access to bucket ${need.bucket}`);
  }
  if (need.kind === "bucket" && need.access === "read" && (await keys.anonymousRead(need.bucket))) return;
  throw s3err.accessDenied("Anonymous access is forbidden for this operation");
}

export const sees = (who: Caller, domain: string) => who.kind === "key" && seesDomain(who, domain);
