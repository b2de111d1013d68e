// A leader lease in NATS KV: at most one holder per name acts at a time; the holder renews it by
// compare-and-set, and when the holder dies the bucket's max_age expires its record so another
// candidate takes over within a bounded time (TTL + one retry interval).
//
// Safety rests on the server, not on clocks agreeing: a candidate gets the lease only with
// `create` (fails while a live record exists), a holder keeps it only with `update(previousSeq)`
// (fails once the record expired or someone else wrote it), and a holder stops calling itself
// leader a margin before its last successful renewal could have expired on the server.
import type { NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiError, JetStreamApiCodes } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { hostname } from "node:os";
import { buckets } from "../../protocol/subjects.ts";
import { sleep } from "./actor.ts";
import type { Logger } from "./log.ts";

export { LEASE_TTL_MS } from "./nats.ts";
import { LEASE_TTL_MS, replicas } from "./nats.ts";

/** What the lease record says (`nats kv get mogile-leases <name>`). */
export interface LeaseRecord { holder: string; pid: number; host: string; since: number; renewedAt: number }


/** Open (creating when missing) the leases bucket; its TTL is what expires an abandoned lease. */
export async function openLeaseBucket(nc: NatsConnection): Promise<{ kv: KV; ttlMs: number }> {
  const kv = await new Kvm(nc).create(buckets.leases, { history: 1, ttl: LEASE_TTL_MS, replicas: replicas() });
  const status = await kv.status();
  // the bucket may predate us with another TTL: follow what the server enforces (ms)
  if (!(status.ttl > 0)) throw new Error(`bucket ${buckets.leases} has no max_age: an abandoned lease would never expire`);
  return { kv, ttlMs: status.ttl };
}

const isConflict = (err: unknown) =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

export class Lease {
  /** revision of our record while we believe we hold the lease; 0 when not */
  private rev = 0;
  /** performance.now() after which we no longer call ourselves leader without a fresh renewal */
  private validUntil = 0;
  private since = 0;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly marginMs: number;

  private constructor(
    private readonly kv: KV,
    readonly name: string,
    readonly holder: string,
    readonly ttlMs: number,
    private readonly log: Logger,
  ) {
    // renew four times per TTL: two renewals can fail (a NATS reconnect) before the lease lapses
    this.renewMs = Math.max(100, Math.floor(ttlMs / 4));
    this.retryMs = Math.max(100, Math.min(1_000, Math.floor(ttlMs / 4)));
    this.marginMs = Math.max(200, Math.floor(ttlMs / 5));
  }

  static async open(nc: NatsConnection, name: string, holder: string, log: Logger): Promise<Lease> {
    const { kv, ttlMs } = await openLeaseBucket(nc);
    return new Lease(kv, name, holder, ttlMs, log);
  }

  /** True while we hold the lease and our last renewal is recent enough that it cannot have lapsed. */
  get leader(): boolean {
    return this.rev > 0 && performance.now() < this.validUntil;
  }

  /** Start competing for (and renewing) the lease in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  private record(): string {
    const r: LeaseRecord = { holder: this.holder, pid: process.pid, host: hostname(), since: this.since, renewedAt: Date.now() };
    return JSON.stringify(r);
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const t0 = performance.now();
      const was = this.leader;
      try {
        if (this.rev === 0) {
          this.since = Date.now();
          this.rev = await this.kv.create(this.name, this.record());
          this.log.info("became leader", { lease: this.name, ttlMs: this.ttlMs });
        } else {
          this.rev = await this.kv.update(this.name, this.record(), this.rev);
        }
        // measured from before the request: the server's expiry clock started no earlier
        this.validUntil = t0 + this.ttlMs - this.marginMs;
      } catch (err) {
        if (isConflict(err)) {
          // someone else holds it (or our record expired and someone may): not ours
          if (this.rev > 0) this.log.warn("lost leadership", { lease: this.name });
          this.rev = 0;
          this.validUntil = 0;
        } else if (was && !this.leader) {
          this.log.warn("lease renewal failing; stepped down until it succeeds", { lease: this.name, err });
        } else if (this.rev > 0) {
          this.log.debug("lease renewal failed; will retry", { lease: this.name, err });
        }
      }
      await sleep(this.rev > 0 ? this.renewMs : this.retryMs, this.abort.signal);
    }
  }

  /** Who holds the lease now, as recorded (null when nobody does). */
  async current(): Promise<LeaseRecord | null> {
    const e = await this.kv.get(this.name);
    if (!e || e.operation !== "PUT") return null;
    try { return e.json<LeaseRecord>(); } catch { return null; }
  }

  /** Stop competing; a holder deletes its record (only if still its own) so a successor need not wait for the TTL. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.rev > 0) {
      const rev = this.rev;
      this.rev = 0;
      this.validUntil = 0;
      await this.kv.delete(this.name, { previousSeq: rev }).catch(() => { /* lapsed or taken: nothing to release */ });
      this.log.info("released leadership", { lease: this.name });
    }
  }
}
