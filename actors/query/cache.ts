// get_paths cache: (domain, key) → file location, evicted by `file.changed` events from any query actor.
// A read that started before an eviction of the same key is not cached (it may be stale).

export interface CachedFile {
  fid: number; length: number; class: string; devids: number[]; at: number;
  /** kept for get_paths meta=1 (the S3 API's reads): ms since epoch, stored metadata, checksum */
  mtime?: number; meta?: Record<string, string>; checksum?: string | null;
  /** its metadata was too big to cache */
  bigMeta?: boolean;
}

export class PathCache {
  private readonly entries = new Map<string, CachedFile>();
  private readonly evictedAt = new Map<string, number>();
  private gen = 0;
  /** the generation of the last clear(): reads begun before it are not cached */
  private cleared = 0;

  constructor(private readonly maxEntries = 100_000, private readonly ttlMs = 30_000) {}

  /** a token to pass to `set` after reading the database */
  begin(): number { return this.gen; }

  get(id: string): CachedFile | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (Date.now() - e.at > this.ttlMs) { this.entries.delete(id); return undefined; }
    return e;
  }

  set(id: string, value: Omit<CachedFile, "at">, token: number): void {
    const ev = this.evictedAt.get(id);
    if ((ev !== undefined && ev > token) || this.cleared > token) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { ...value, at: Date.now() });
  }

  evict(id: string): void {
    this.entries.delete(id);
    this.evictedAt.set(id, ++this.gen);
    if (this.evictedAt.size > 50_000) {
      // forget old evictions: only reads slower than ~10k evictions could still be affected
      for (const [k, g] of this.evictedAt) { if (g < this.gen - 10_000) this.evictedAt.delete(k); }
    }
  }

  /** forget every entry (clear_cache); reads in flight are not cached either */
  clear(): void {
    this.entries.clear();
    this.evictedAt.clear();
    this.cleared = ++this.gen;
  }

  get size(): number { return this.entries.size; }
}
