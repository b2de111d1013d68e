// Cluster-wide counters (fid blocks, host ids) with compare-and-set in NATS KV.
// FerretDB v1 runs `$inc` and conditional updates as read-then-write without isolation (measured:
// concurrent $inc handed out duplicate values), so counters that must never repeat live here.
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { buckets } from "../../protocol/subjects.ts";
import type { Store } from "./mongo.ts";
import { replicas } from "./nats.ts";

export class Counters {
  private constructor(private readonly kv: KV, private readonly store: Store) {}

  static async open(nc: NatsConnection, store: Store): Promise<Counters> {
    return new Counters(await new Kvm(nc).create(buckets.counters, { history: 1, replicas: replicas() }), store);
  }

  /**
   * Atomically move counter `name` forward: `next(current)` returns the new value, or null to give
   * up (the current value is returned then). Returns [before, after].
   */
  async advance(name: string, next: (current: number) => number | null): Promise<[number, number]> {
    for (let attempt = 0; ; attempt++) {
      const e = await this.kv.get(name);
      if (!e || e.operation !== "PUT") {
        // first use (or a lost bucket): start above everything the database already holds
        const seed = await this.seed(name);
        try {
          await this.kv.create(name, String(seed));
        } catch { /* someone else seeded it: read theirs */ }
        continue;
      }
      const current = Number(e.string());
      const after = next(current);
      if (after === null) return [current, current];
      try {
        await this.kv.update(name, String(after), e.revision);
        return [current, after];
      } catch (err) {
        if (attempt > 1000) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt + 1)));
      }
    }
  }

  /** The next unused value of a counter, from the metadata (a fresh cluster, or a lost bucket). */
  private async seed(name: string): Promise<number> {
    const legacy = (await this.store.counters.findOne({ _id: name.replace(/\.next$/, "") }))?.next ?? 0;
    if (name === "fid.next") {
      const top = await this.store.files.find({}, { projection: { fid: 1 } }).sort({ fid: -1 }).limit(1).toArray();
      return Math.max(legacy, top[0]?.fid ?? 0) + 1;
    }
    if (name === "hostid.next") {
      const top = await this.store.hosts.find({}, { projection: { _id: 1 } }).sort({ _id: -1 }).limit(1).toArray();
      return Math.max(legacy, top[0]?._id ?? 0) + 1;
    }
    return legacy + 1;
  }
}

/** the largest fid mogile hands out: the MogileFS path layout has room for 10 digits */
export const MAX_FID = 9_999_999_999;
/** how far above the fids handed out so far an explicit fid may be */
export const MAX_FID_JUMP = 2 ** 32;

/** Fids in blocks per query actor (one compare-and-set per block), so allocation is memory-speed. */
export class FidAllocator {
  private next = 0;
  private end = 0; // exclusive
  private refill: Promise<void> | null = null;
  constructor(private readonly counters: Counters, private readonly block = 1000) {}

  async allocate(): Promise<number> {
    while (this.next >= this.end) {
      this.refill ??= this.takeBlock().finally(() => { this.refill = null; });
      await this.refill;
    }
    return this.next++;
  }

  private async takeBlock(): Promise<void> {
    const [from, to] = await this.counters.advance("fid.next", (n) => n + this.block);
    this.next = from;
    this.end = to;
  }

  /**
   * Claim an explicit fid: only above every fid handed out so far (blocks included), and at most
   * MAX_FID_JUMP above them (a hint near 2^53 would otherwise move the counter where every later
   * fid is out of range, for good); else null.
   */
  async claim(fid: number): Promise<number | null> {
    if (!Number.isSafeInteger(fid) || fid > MAX_FID) return null;
    const [before, after] = await this.counters.advance("fid.next", (n) => (fid >= n && fid - n <= MAX_FID_JUMP ? fid + 1 : null));
    return after > before ? fid : null;
  }
}

/** The next host id. */
export async function nextHostId(counters: Counters): Promise<number> {
  const [id] = await counters.advance("hostid.next", (n) => n + 1);
  return id;
}
