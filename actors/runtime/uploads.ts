// Open uploads (create_open until create_close) live in a NATS KV bucket, not the database:
// two cheap KV operations per file instead of two metadata writes on the hottest path.
// Taking a record is a compare-and-purge on its revision, so create_close and the reaper
// can never both take the same upload.
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { DeliverPolicy, jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { z } from "zod";
import { buckets } from "../../protocol/subjects.ts";

export const Upload = z.object({
  fid: z.number().int().positive(),
  domain: z.string(),
  key: z.string(),
  class: z.string(),
  devids: z.array(z.number().int().positive()),
  /** ms since epoch */
  expiresAt: z.number(),
  /** given at create_open, used at create_close unless it gives its own */
  checksum: z.string().optional(),
  checksumverify: z.boolean().optional(),
  /**
   * why create_open picked each destination (`d<devid>`) and each hop of its chain (`chain`,
   * `d<devid>` → why): create_close records it with the copies
   */
  placed: z.record(z.string(), z.object({ why: z.string(), chain: z.record(z.string(), z.string()).optional() })).optional(),
});
export type Upload = z.infer<typeof Upload>;

const keyOf = (fid: number) => `fid.${fid}`;

/** a record this process wrote, with its revision (insertion order is expiry order: one TTL) */
type Mine = { upload: Upload; revision: number };
/** at most this many records kept per process (a few hundred bytes each) */
const MINE_MAX = 10_000;

export class Uploads {
  /**
   * The records this process wrote and has not yet taken: a create_close that reaches the query
   * actor whose create_open wrote the record takes it without reading it back (one JetStream
   * request fewer per file). The take is still the compare-and-purge on that revision, so a record
   * taken or rewritten elsewhere since is never taken twice.
   */
  private readonly mine = new Map<number, Mine>();

  private constructor(readonly kv: KV, private readonly js: JetStreamClient) {}

  static async open(nc: NatsConnection): Promise<Uploads> {
    return new Uploads(await new Kvm(nc).open(buckets.uploads), jetstream(nc));
  }

  async record(u: Upload): Promise<void> {
    const revision = await this.kv.put(keyOf(u.fid), JSON.stringify(u));
    const now = Date.now();
    for (const [fid, m] of this.mine) {
      if (this.mine.size < MINE_MAX && m.upload.expiresAt > now) break;
      this.mine.delete(fid);
    }
    this.mine.set(u.fid, { upload: u, revision });
  }

  /**
   * Take an upload read with peek(), atomically: only if it is still at that revision, so
   * create_close and the reaper can never both take it.
   */
  async takePeeked(p: { upload: Upload; revision: number }): Promise<Upload | null> {
    this.mine.delete(p.upload.fid);
    try {
      await this.kv.purge(keyOf(p.upload.fid), { previousSeq: p.revision, ttl: "60s" });
    } catch {
      return null; // changed or taken since it was read
    }
    return p.upload;
  }

  /** Every open upload's fid (a scan of current keys; cost grows with open uploads, not churn). */
  async openFids(): Promise<number[]> {
    return (await this.openRevisions()).map((u) => u.fid);
  }

  /**
   * Every open upload's fid with the revision of its record (headers only: a scan of current
   * keys, so its cost grows with open uploads, not churn). A record rewritten since an earlier
   * scan shows a new revision.
   */
  async openRevisions(): Promise<{ fid: number; revision: number }[]> {
    const c = await this.js.consumers.get(`KV_${buckets.uploads}`, {
      filter_subjects: `$KV.${buckets.uploads}.fid.>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
      headers_only: true,
    });
    const out: { fid: number; revision: number }[] = [];
    try {
      const pending = (await c.info()).num_pending;
      if (pending === 0) return out;
      // one pull for every record there was at the start, bounded in time
      for await (const m of await c.fetch({ max_messages: pending, expires: 30_000 })) {
        const op = m.headers?.get("KV-Operation");
        if (op !== "DEL" && op !== "PURGE") out.push({ fid: Number(m.subject.slice(m.subject.lastIndexOf(".") + 1)), revision: m.seq });
        if (m.info.pending === 0) break;
      }
    } finally {
      await c.delete().catch(() => {});
    }
    return out;
  }

  /**
   * The current record of an open upload, with its revision. With `mine`, the record this process
   * wrote (unexpired) is answered without a read: `cached` then says so, and a take that fails on
   * it should be retried with a fresh peek (the record may have been rewritten since).
   */
  async peek(fid: number, o: { mine?: boolean } = {}): Promise<{ upload: Upload; revision: number; cached?: true } | null> {
    const m = o.mine ? this.mine.get(fid) : undefined;
    if (m && m.upload.expiresAt > Date.now()) return { ...m, cached: true };
    const e = await this.kv.get(keyOf(fid));
    if (!e || e.operation !== "PUT") return null;
    try { return { upload: Upload.parse(e.json()), revision: e.revision }; } catch { return null; }
  }
}
