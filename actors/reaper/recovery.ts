// Dead-device recovery (reaper leader only): every fid with a copy on a device marked dead loses
// that device from its locations and gets a replicate job. The files collection is the source of
// truth (`devids` still naming the device = not yet handled), so the work resumes after any restart
// or leader change; progress is kept in the `mogile-recovery` KV bucket.
//
// Order, and why it is not MogileFS's (queue, then drop the copy): FerretDB v1 applies every update
// as read-modify-write without isolation, so the replicator's `$addToSet` of a new copy and our
// `$pull` of the dead one, racing on one document, lose one of the two (measured: ~half the time).
// So the job must only exist once the `$pull` is done. Crash safety comes from an intent record
// instead: the batch's fids are written to the KV record before the `$pull`, and whoever leads
// next queues their jobs again (deduplicated by msgID) before anything else.
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { buckets, subjects } from "../../protocol/subjects.ts";
import { RecoveryStatus, type ReplicateJob } from "../../protocol/schemas.ts";
import { sleep } from "../runtime/actor.ts";
import { replicas } from "../runtime/nats.ts";
import type { Store, FileDoc } from "../runtime/mongo.ts";
import type { Logger } from "../runtime/log.ts";
import { dropped, placementSet } from "../runtime/domain/placements.ts";


export const recoveryKey = (devid: number) => `dev.${devid}`;

export interface RecoveryConfig {
  /** how long a device must have been dead before its files are requeued (ms) */
  graceMs: number;
  /** files handled per batch */
  batch: number;
  /** pause between batches (ms): the replicator, not the reaper, sets the pace of recovery */
  pauseMs: number;
  /** how often a finished device is checked again for files that still name it (ms) */
  recheckMs: number;
}

const LOG_EVERY_MS = 5_000;
const PULL_CONCURRENCY = 16;
/** a stream electing a new leader (a NATS node died) answers no-responders for seconds: retry through it */
const PUBLISH_RETRIES = 10;

export class Recovery {
  private constructor(
    private readonly store: Store,
    private readonly js: JetStreamClient,
    readonly kv: KV,
    private readonly log: Logger,
    private readonly cfg: RecoveryConfig,
  ) {}

  static async open(nc: NatsConnection, store: Store, log: Logger, cfg: RecoveryConfig): Promise<Recovery> {
    const kv = await new Kvm(nc).create(buckets.recovery, { history: 1, replicas: replicas() });
    return new Recovery(store, jetstream(nc), kv, log, cfg);
  }

  async status(devid: number): Promise<RecoveryStatus | null> {
    const e = await this.kv.get(recoveryKey(devid));
    if (!e || e.operation !== "PUT") return null;
    try { return RecoveryStatus.parse(e.json()); } catch { return null; }
  }

  private async save(st: RecoveryStatus): Promise<void> {
    st.updatedAt = Date.now();
    await this.kv.put(recoveryKey(st.devid), JSON.stringify(st));
  }

  /**
   * One pass over every dead device. `proceed()` is asked before each batch (leadership, stop):
   * when it says no, the pass ends and the next leader continues from the database.
   */
  async pass(proceed: () => boolean, signal: AbortSignal): Promise<void> {
    const devices = await this.store.devices.find({}, { projection: { _id: 1, status: 1 } }).toArray();
    const dead = new Set(devices.filter((d) => d.status === "dead").map((d) => d._id));
    for (const devid of [...dead].sort((a, b) => a - b)) {
      if (!proceed()) return;
      await this.device(devid, dead, proceed, signal);
    }
  }

  private async device(devid: number, dead: Set<number>, proceed: () => boolean, signal: AbortSignal): Promise<void> {
    const now = Date.now();
    let st = await this.status(devid);
    if (!st) {
      const total = await this.store.files.countDocuments({ devids: devid });
      st = { devid, phase: "waiting", total, remaining: total, requeued: 0, noOtherCopy: 0, inflight: [], startedAt: now, updatedAt: now, finishedAt: null };
      await this.save(st);
      this.log.warn("device is dead; its files will be re-replicated", { devid, files: total, graceMs: this.cfg.graceMs });
    }
    // a leader died while handling a batch: finish dropping its copies (idempotent), then queue
    // its jobs, before a job can race a $pull on the same document
    if (st.inflight.length) {
      this.log.info("finishing a batch an earlier leader left", { devid, files: st.inflight.length });
      await this.pull(devid, st.inflight.map((fid) => ({ fid })));
      await this.queue(devid, st.inflight, st);
    }
    if (st.phase === "waiting") {
      if (now - st.startedAt < this.cfg.graceMs) return;
      st.phase = "requeueing";
      st.total = st.remaining = await this.store.files.countDocuments({ devids: devid });
      await this.save(st);
      this.log.info("dead device recovery started", { devid, remaining: st.remaining });
    }
    if (st.phase === "done") {
      if (now - st.updatedAt < this.cfg.recheckMs) return;
      // a copy recorded by an actor whose device view was stale can name the device after we finished
      const straggler = await this.store.files.findOne({ devids: devid }, { projection: { _id: 1 } });
      if (!straggler) { await this.save(st); return; }
      st.phase = "requeueing";
      st.finishedAt = null;
      this.log.warn("dead device is named by files again; requeueing them", { devid });
    }

    let lastLog = 0;
    while (proceed() && !signal.aborted) {
      const docs = await this.store.files
        .find({ devids: devid }, { projection: { _id: 1, fid: 1, devids: 1 } })
        .limit(this.cfg.batch)
        .toArray() as Pick<FileDoc, "_id" | "fid" | "devids">[];
      if (docs.length === 0) {
        st.phase = "done";
        st.remaining = 0;
        st.finishedAt = Date.now();
        await this.save(st);
        this.log.info("dead device recovered: every file that had a copy there is queued for replication", {
          devid, requeued: st.requeued, noOtherCopy: st.noOtherCopy, seconds: Math.round((st.finishedAt - st.startedAt) / 1000),
        });
        return;
      }
      await this.requeue(devid, docs, dead, st);
      if (Date.now() - lastLog >= LOG_EVERY_MS) {
        lastLog = Date.now();
        this.log.info("dead device recovery progress", { devid, requeued: st.requeued, remaining: st.remaining });
      }
      await sleep(this.cfg.pauseMs, signal);
    }
  }

  private async requeue(devid: number, docs: Pick<FileDoc, "_id" | "fid" | "devids">[], dead: Set<number>, st: RecoveryStatus): Promise<void> {
    const orphans: number[] = [];
    for (const d of docs) if (!d.devids.some((x) => x !== devid && !dead.has(x))) orphans.push(d.fid);
    if (orphans.length) this.log.error("files had no copy left outside dead devices", { devid, count: orphans.length, fids: orphans.slice(0, 20).join(",") });
    st.noOtherCopy += orphans.length;
    st.remaining = Math.max(0, st.remaining - docs.length);
    // intent first: from here on these fids no longer name the device, so nothing else would find them
    st.inflight = docs.map((d) => d.fid);
    await this.save(st);
    await this.pull(devid, docs);
    await this.queue(devid, st.inflight, st);
  }

  /**
   * Drop the device from each file's locations: a plain-value $pull (FerretDB ignores $pull with a
   * condition), compared on fid so a key replaced meanwhile keeps its new version's locations.
   */
  private async pull(devid: number, docs: { _id?: string; fid: number }[]): Promise<void> {
    // why the copy went is recorded in the same update (explain shows it; the copy that replaces it says so too)
    const forgotten = placementSet([[devid, dropped("dead", `dev${devid} was marked dead; its copy is replaced elsewhere`)]]);
    for (let i = 0; i < docs.length; i += PULL_CONCURRENCY) {
      await Promise.all(docs.slice(i, i + PULL_CONCURRENCY).map((d) =>
        this.store.files.updateMany(d._id !== undefined ? { _id: d._id, fid: d.fid, devids: devid } : { fid: d.fid, devids: devid }, { $pull: { devids: devid }, $set: forgotten })));
    }
  }

  /** Queue replication for fids already dropped from the device, then clear the intent. */
  private async queue(devid: number, fids: number[], st: RecoveryStatus): Promise<void> {
    await Promise.all(fids.map((fid) => {
      const job: ReplicateJob = { fid, reason: "dead-device", lost: devid };
      return this.js.publish(subjects.replicateJob, JSON.stringify(job), { msgID: `repl-${fid}-dead${devid}`, retries: PUBLISH_RETRIES });
    }));
    st.requeued += fids.length;
    st.inflight = [];
    await this.save(st);
  }
}
