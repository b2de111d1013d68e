// Classic get_paths answers (noverify) kept for a moment, so a hot key is answered without a NATS
// round trip to a query actor (that hop is most of the cost of a classic get_paths).
//
// An answer is kept MOGILE_LEGACY_PATHS_CACHE_MS (2 s; 0 turns this off) and dropped sooner:
// - when any tracker publishes that the file changed (`mogile.event.file.changed`: overwritten,
//   deleted, renamed, replicated, repaired);
// - when this actor forwards a command naming the key (delete, rename, create_close, ...), before
//   and after it runs, so a client never reads its own change stale;
// - entirely, on any other cluster event (device, host, domain, class, state changes) and after
//   any other command that is not a read: a device marked dead is out of the answers at once.
// An answer whose request began before its key was dropped is not kept (it may be stale), nor one
// received within a second after a drop: the query actors apply the same event on their own (a
// device table reload, another actor's eviction), and an answer from one that has not yet must
// not be kept for the cache's lifetime. Answers with signed URLs expiring within a minute of
// the cache's lifetime are not kept either; the connection dropping makes everything go.
// A file changed by another client is at worst as stale as the event takes to arrive, as with
// several query actors; a copy lost without an event is what the classic client's fallback to the
// next path is for, as with MogileFS's own (memcached) path cache. Verified reads (noverify=0) are
// never cached: their check is of the copy as it is now.
// A query actor orders a file's copies at random on each get_paths (readers spread over them): a
// few answers are kept per key and one of them, at random, given out, so a hot key's readers still
// spread over its copies.
import { zbool } from "../../protocol/schemas.ts";
import { counter } from "../runtime/metrics.ts";

const lookups = counter({ name: "mogile_legacy_paths_cache_lookups_total", help: "Classic get_paths (noverify) answered from the legacy tracker's cache (hit) or asked of a query actor (miss)", labelNames: ["result"] as const });
const hit = lookups.labels("hit");
const miss = lookups.labels("miss");

/** the arguments a cacheable get_paths may carry (anything else goes to a query actor) */
const CACHEABLE = new Set(["domain", "key", "noverify", "pathcount", "zone"]);
/** commands after which nothing is dropped: they change no file, device or name */
const READS = new Set([
  "get_paths", "create_open", "get_domains", "get_hosts", "get_devices", "list_keys", "list_fids", "file_info",
  "file_debug", "stats", "server_settings", "server_setting", "fsck_status", "fsck_getlog", "rebalance_status",
  "rebalance_test", "explain", "noop", "sleep", "failed_jobs",
]);
/** answers gathered per key (and argument variant) before they are given out again */
const SAMPLES = 4;
/** argument variants kept per key (pathcount, zone) */
const VARIANTS = 8;
/** after a drop, answers are not kept for this long (the query actors catch up with the change) */
const SETTLE_MS = 1_000;
/** a signed URL must stay valid this long after the cache could last hand it out */
const SIGNED_MARGIN_MS = 60_000;
/** the earliest expiry (ms) of the signed URLs in an answer (`e=` seconds), or Infinity */
function expiryOf(reply: unknown): number {
  let min = Infinity;
  for (const p of (reply as { paths?: unknown }).paths instanceof Array ? (reply as { paths: unknown[] }).paths : []) {
    const m = typeof p === "string" ? /[?&]e=(\d+)/.exec(p) : null;
    if (m) min = Math.min(min, Number(m[1]) * 1000);
  }
  return min;
}
const fileKey = (domain: string, key: string) => `${domain}\u0000${key}`;

type Args = Record<string, string>;

export class PathsCache {
  /** file → its answers, a few per argument variant (pathcount, zone) */
  private readonly entries = new Map<string, { at: number; replies: Map<string, unknown[]> }>();
  /** file → the generation and time at which it was last dropped */
  private readonly droppedAt = new Map<string, { gen: number; at: number }>();
  private gen = 0;
  private cleared = { gen: 0, at: 0 };

  constructor(private readonly ttlMs: number, private readonly maxEntries = 50_000, private readonly now: () => number = Date.now) {}

  get enabled(): boolean { return this.ttlMs > 0; }

  /** the cache slot of a get_paths request, or null when it must go to a query actor */
  slot(command: string, args: Args): { file: string; variant: string } | null {
    if (!this.enabled || command !== "get_paths" || !args.domain || !args.key) return null;
    for (const k of Object.keys(args)) if (!CACHEABLE.has(k)) return null;
    if (!zbool.safeParse(args.noverify ?? "").data) return null;
    // "2", "02" and "2.0" ask for the same thing
    const pathcount = args.pathcount === undefined || Number.isNaN(Number(args.pathcount)) ? args.pathcount ?? "" : String(Number(args.pathcount));
    return { file: fileKey(args.domain, args.key), variant: `${pathcount}\u0000${args.zone ?? ""}` };
  }

  /** a token to pass to set() after the query actor answers */
  begin(): number { return this.gen; }

  get(s: { file: string; variant: string }): unknown {
    const e = this.entries.get(s.file);
    if (!e || this.now() - e.at > this.ttlMs) {
      if (e) this.entries.delete(s.file);
      miss.inc();
      return undefined;
    }
    const r = e.replies.get(s.variant);
    if (!r || r.length < SAMPLES) { miss.inc(); return undefined; }
    hit.inc();
    return r[Math.floor(Math.random() * r.length)];
  }

  set(s: { file: string; variant: string }, reply: unknown, token: number): void {
    const now = this.now();
    const dropped = this.droppedAt.get(s.file);
    if (dropped && (dropped.gen > token || now - dropped.at < SETTLE_MS)) return;
    if (this.cleared.gen > token || now - this.cleared.at < SETTLE_MS) return;
    if (expiryOf(reply) < now + this.ttlMs + SIGNED_MARGIN_MS) return;
    const e = this.entries.get(s.file);
    if (e && now - e.at <= this.ttlMs) {
      const r = e.replies.get(s.variant);
      if (!r) { if (e.replies.size < VARIANTS) e.replies.set(s.variant, [reply]); }
      else if (r.length < SAMPLES) r.push(reply);
      return;
    }
    if (e) this.entries.delete(s.file);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(s.file, { at: now, replies: new Map([[s.variant, [reply]]]) });
  }

  drop(domain: string, key: string): void {
    const f = fileKey(domain, key);
    this.entries.delete(f);
    this.droppedAt.set(f, { gen: ++this.gen, at: this.now() });
    if (this.droppedAt.size > 50_000) {
      // an answer slower than ~10k drops since it was asked for, and past its settling time, is not a concern
      const now = this.now();
      for (const [k, d] of this.droppedAt) if (d.gen < this.gen - 10_000 && now - d.at >= SETTLE_MS) this.droppedAt.delete(k);
    }
  }

  clear(): void {
    this.entries.clear();
    this.droppedAt.clear();
    this.cleared = { gen: ++this.gen, at: this.now() };
  }

  /** What a forwarded command (other than a cached get_paths) may have changed: dropped. */
  forwarded(command: string, args: Args): void {
    if (!this.enabled || READS.has(command)) return;
    const domain = args.domain;
    const keys = [args.key, args.from_key, args.to_key].filter((k): k is string => typeof k === "string" && k !== "");
    if (domain && keys.length) for (const k of keys) this.drop(domain, k);
    else this.clear();
  }

  /** A cluster event (`mogile.event.*`): a file's change drops that file, anything else drops all. */
  event(subject: string, data: Uint8Array, fileChanged: string, keysChanged: string): void {
    if (!this.enabled || subject === keysChanged) return;
    if (subject === fileChanged) {
      try {
        const e = JSON.parse(new TextDecoder().decode(data)) as { domain?: unknown; key?: unknown };
        if (typeof e.domain === "string" && typeof e.key === "string") { this.drop(e.domain, e.key); return; }
      } catch { /* not a file event we can read: drop everything */ }
    }
    this.clear();
  }

  get size(): number { return this.entries.size; }
}
