// Lost devices (reaper leader only): a device the monitor has seen unreachable for
// MOGILE_REPAIR_AFTER_MS (its machine is down or cut off) gets every file with a copy there queued
// for replication. Unlike a dead device, nothing is dropped from the files' locations: the
// replicator counts such copies out while another copy remains (runtime/domain/policy.ts
// placement), and when the device is back its copies are simply surplus.
//
// The reaper times the outage by its own polls (a device must be seen unreachable on every poll for
// the whole period), so one stale observation, such as a monitor on the far side of a healed
// partition briefly writing old news, does not set off a mass requeue.
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { buckets, subjects } from "../../protocol/subjects.ts";
import { ObservedDevice, type ReplicateJob } from "../../protocol/schemas.ts";
import { REPAIR_AFTER_MS } from "../runtime/devices.ts";
import { sleep } from "../runtime/actor.ts";
import type { Store } from "../runtime/mongo.ts";
import type { Logger } from "../runtime/log.ts";

const PUBLISH_RETRIES = 10;
const LOG_EVERY_MS = 5_000;

interface Episode {
  /** first poll that saw it unreachable */
  since: number;
  /** files queued so far, and the last fid handled (resume point) */
  queued: number;
  after: number;
  done: boolean;
}

export class LostDevices {
  private readonly episodes = new Map<number, Episode>();

  private constructor(private readonly store: Store, private readonly js: JetStreamClient, private readonly kv: KV, private readonly log: Logger,
    private readonly cfg: { afterMs: number; batch: number; pauseMs: number }) {}

  static async open(nc: NatsConnection, store: Store, log: Logger, cfg: { batch: number; pauseMs: number; afterMs?: number }): Promise<LostDevices> {
    const kv = await new Kvm(nc).open(buckets.deviceState);
    return new LostDevices(store, jetstream(nc), kv, log, { afterMs: cfg.afterMs ?? REPAIR_AFTER_MS, ...cfg });
  }

  /** One poll: note which devices are unreachable, and queue the files of those lost long enough. */
  async pass(proceed: () => boolean, signal: AbortSignal): Promise<void> {
    const now = Date.now();
    const devices = await this.store.devices.find({}, { projection: { _id: 1, status: 1 } }).toArray();
    for (const dev of devices) {
      // a follower (or a stopping leader) forgets what it timed: the next leader times afresh
      if (!proceed()) { this.episodes.clear(); return; }
      const devid = dev._id;
      // dead devices are the dead-device recovery's; drained or down ones hold no files to save
      const o = dev.status !== "dead" ? await this.observed(devid) : null;
      const unreachable = o?.observed === "unreachable";
      const ep = this.episodes.get(devid);
      if (!unreachable) {
        if (ep) {
          this.episodes.delete(devid);
          if (ep.queued) this.log.info("lost device is back: the extra copies made meanwhile are surplus", { devid, queued: ep.queued });
        }
        continue;
      }
      if (!ep) {
        this.episodes.set(devid, { since: now, queued: 0, after: 0, done: false });
        continue;
      }
      // the replicators judge by the monitor's clock (DeviceView.lost): wait until that agrees too
      if (ep.done || now - ep.since < this.cfg.afterMs || !o || o.lastHeartbeat <= 0 || o.ts - o.lastHeartbeat < this.cfg.afterMs) continue;
      await this.requeue(devid, ep, proceed, signal);
    }
  }

  private async observed(devid: number): Promise<ObservedDevice | null> {
    const e = await this.kv.get(`dev.${devid}`).catch(() => null);
    if (!e || e.operation !== "PUT") return null;
    try { return ObservedDevice.parse(e.json()); } catch { return null; }
  }

  private async requeue(devid: number, ep: Episode, proceed: () => boolean, signal: AbortSignal): Promise<void> {
    if (ep.queued === 0 && ep.after === 0) {
      const total = await this.store.files.countDocuments({ devids: devid });
      this.log.warn("device unreachable for too long: copying its files elsewhere", { devid, files: total, unreachableSeconds: Math.round((Date.now() - ep.since) / 1000) });
    }
    let lastLog = Date.now();
    while (proceed() && !signal.aborted) {
      const docs = await this.store.files.find({ devids: devid, fid: { $gt: ep.after } }, { projection: { _id: 1, fid: 1 } })
        .sort({ fid: 1 }).limit(this.cfg.batch).toArray();
      if (docs.length === 0) {
        ep.done = true;
        this.log.info("lost device: every file with a copy there is queued for replication", { devid, queued: ep.queued });
        return;
      }
      await Promise.all(docs.map((d) => {
        const job: ReplicateJob = { fid: d.fid, reason: "lost-device", lost: devid, ts: Date.now() };
        return this.js.publish(subjects.replicateJob, JSON.stringify(job), { msgID: `repl-${d.fid}-lost${devid}-${ep.since}`, retries: PUBLISH_RETRIES });
      }));
      ep.queued += docs.length;
      ep.after = docs[docs.length - 1].fid;
      if (Date.now() - lastLog >= LOG_EVERY_MS) {
        lastLog = Date.now();
        this.log.info("lost device recovery progress", { devid, queued: ep.queued });
      }
      await sleep(this.cfg.pauseMs, signal);
    }
  }
}
