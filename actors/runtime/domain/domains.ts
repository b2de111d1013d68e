// Domain rows cached for a few seconds, for their access options: whether new files are stored
// protected (signed_get), whether read URLs must be signed, whether the gateway serves reads
// without an API key. Read by the query actor, the replicator and fsck.
import type { DomainOptions } from "../../../protocol/schemas.ts";
import type { DomainDoc, Store } from "../mongo.ts";

/** The options as get_domains reports them (false when never set). */
export function domainOptions(d: DomainDoc): DomainOptions {
  return { signed_get: d.signed_get === true, anonymous_read: d.anonymous_read === true };
}

/**
 * get_paths signs a domain's read URLs while signed_get is on, and after it was turned off too:
 * files stored protected meanwhile stay protected.
 */
export const signsReadUrls = (d: DomainDoc): boolean => d.signed_get === true || d.signed_urls === true;

/** Only rows that exist are cached: a domain created elsewhere is seen at once. */
export class DomainCache {
  private rows = new Map<string, { row: DomainDoc; at: number }>();
  constructor(private readonly store: Store, private readonly ttlMs = 5_000, private readonly max = 10_000) {}

  async find(domain: string): Promise<DomainDoc | null> {
    const hit = this.rows.get(domain);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.row;
    const row = await this.store.domains.findOne({ _id: domain });
    if (row) {
      if (this.rows.size >= this.max) this.rows.delete(this.rows.keys().next().value!);
      this.rows.set(domain, { row, at: Date.now() });
    } else this.rows.delete(domain);
    return row;
  }

  /** new copies of this domain's files are stored protected */
  async protects(domain: string): Promise<boolean> {
    return (await this.find(domain).catch(() => null))?.signed_get === true;
  }

  forget(): void { this.rows.clear(); }
}
