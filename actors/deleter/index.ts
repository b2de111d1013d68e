// The deleter actor: removes the bytes of deleted (or discarded, replaced, expired) fids from every
// device that holds them, and single unwanted copies; retries with back-off while a device is
// unreachable. What to remove is decided again when the job runs, from the metadata.
import { z } from "zod";
import { streams, consumers } from "../../protocol/subjects.ts";
import { DeleteJob } from "../../protocol/schemas.ts";
import { deleteUrl } from "../../protocol/http.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { actorConfig } from "../runtime/config.ts";
import type { ActorContext, ActorSpec } from "../runtime/actor.ts";
import type { DeviceView } from "../runtime/devices.ts";
import { startJobActor, retryScheduleEnv, ack, retry, type Outcome } from "../runtime/jobs.ts";
import type { Logger } from "../runtime/log.ts";
import type { FileDoc, Store } from "../runtime/mongo.ts";

const Config = z.object({
  /** retry delays in ms for temporary failures, comma-separated (the last one repeats) */
  MOGILE_DELETER_RETRY_MS: retryScheduleEnv,
  /** delete jobs worked on at once */
  MOGILE_DELETER_CONCURRENCY: z.coerce.number().int().positive().default(32),
  /** deliveries before a job is recorded as failed (a down device can take a while to return) */
  MOGILE_DELETER_MAX_DELIVER: z.coerce.number().int().positive().default(30),
});

/** 2 s, 10 s, 1 min, 5 min, 30 min… (±20%) */
const RETRY_MS = [2_000, 10_000, 60_000, 300_000, 1_800_000];

/**
 * Jobs that remove one copy of a file that lives on (an unrecorded replica, a surplus copy, or the
 * old copy of a drain or rebalance move). Every other reason removes the whole fid.
 */
const ONE_COPY = new Set(["orphan-replica", "drain", "rebalance", "surplus", "unreferenced"]);

/**
 * Remove the bytes a job names, checked against the metadata when the job runs, whatever its
 * reason: the bytes of a fid some key names are never removed (an upload record that reappeared
 * after a crash, a rename that raced a delete), and a copy recorded again is kept.
 */
export async function removeCopies(devices: DeviceView, store: Store, log: Logger, job: DeleteJob, seq = 0): Promise<Outcome> {
  const named = await store.files.find({ fid: job.fid }, { projection: { _id: 1, devids: 1 } }).toArray();
  const oneCopy = ONE_COPY.has(job.reason ?? "");
  if (!oneCopy && named.length > 0) {
    log.info("delete: a key names the fid again; its bytes stay", { fid: job.fid, reason: job.reason, key: named[0]._id });
    return ack;
  }
  const pending: string[] = [];
  for (const devid of job.devids) {
    const row = devices.row(devid);
    if (!row) { log.warn("delete: device unknown; forgetting its copy", { fid: job.fid, devid }); continue; }
    if (row.dev.status === "dead") continue; // its bytes are gone with it
    const url = devices.url(devid, job.fid)!;
    // storage nodes take DELETEs only through URLs signed with the cluster key
    const signed = devices.signedUrl(devid, job.fid, "DELETE")!;
    // one copy of a live file: fence it off first, so no replicator, move or fsck records a copy
    // on this device while its bytes go (the fence is an atomic update that requires the copy to
    // be unrecorded: if it was recorded again meanwhile, it stays). One job at a time holds it.
    const token = `${devid}:${seq}:`;
    let fenced = false;
    if (oneCopy && named.length > 0) {
      const f = await fence(store, job.fid, devid, token);
      if (f === "recorded") continue;
      if (f === "busy") { pending.push(`${url}: another delete of this copy is under way`); continue; }
      fenced = f === "fenced";
    }
    let failed = false;
    try {
      if (!(await deleteUrl(signed))) { pending.push(`${url}: refused`); failed = true; }
    } catch (err) {
      pending.push(`${url}: ${(err as Error).message}`);
      failed = true;
    }
    // the fence comes down only after the DELETE answered: whoever records a copy there after
    // this checks that its bytes are still there (see recordCopy). A failed delete keeps its
    // fence: the retry deletes first, and nothing may land there meanwhile
    if (fenced && !failed) await unfence(store, job.fid, devid, token);
  }
  return pending.length ? retry(pending.join("; ")) : ack;
}

/** a fence older than this belongs to a delete job that was given up on: it may be taken over */
const STALE_FENCE_MS = 15 * 60_000;

/**
 * Mark every record of the fid as losing its copy on `devid` (`deleting` for those who record
 * copies; `fencedBy` names the job holding the fence), unless one records that copy.
 */
async function fence(store: Store, fid: number, devid: number, token: string): Promise<"recorded" | "fenced" | "unnamed" | "busy"> {
  const mine = (t: string) => t.startsWith(token);
  const holder = (d: FileDoc) => (d.fencedBy ?? []).find((t) => t.startsWith(`${devid}:`));
  for (let attempt = 0; attempt < 20; attempt++) {
    const docs = await store.files.find({ fid }, { projection: { _id: 1, devids: 1, deleting: 1, fencedBy: 1 } }).toArray();
    if (docs.length === 0) return "unnamed";
    if (docs.some((d) => d.devids.includes(devid))) return "recorded";
    let all = true;
    for (const d of docs) {
      const h = holder(d);
      if (h && mine(h)) continue; // ours, from an earlier delivery of this job
      if (h || d.deleting?.includes(devid)) {
        const at = Number(h?.split(":")[2] ?? 0);
        if (Date.now() - at < STALE_FENCE_MS) return "busy";
        // left by a job given up on long ago: take it over
        await store.files.updateOne({ _id: d._id, fid }, { $pull: { deleting: devid, ...(h ? { fencedBy: h } : {}) } });
        all = false;
        continue;
      }
      const res = await store.files.updateOne(
        { _id: d._id, fid, devids: { $nin: [devid] }, deleting: { $nin: [devid] } },
        { $addToSet: { deleting: devid, fencedBy: `${token}${Date.now()}` } },
      );
      if (res.matchedCount === 0) all = false;
    }
    if (all) return "fenced";
  }
  throw new Error(`fid ${fid}: its records kept changing while fencing device ${devid}`);
}

async function unfence(store: Store, fid: number, devid: number, token: string): Promise<void> {
  for (const d of await store.files.find({ fid }, { projection: { _id: 1, fencedBy: 1 } }).toArray()) {
    // plain values only: FerretDB ignores a $pull with a condition
    for (const t of (d.fencedBy ?? []).filter((x) => x.startsWith(token))) {
      await store.files.updateOne({ _id: d._id, fid }, { $pull: { deleting: devid, fencedBy: t } });
    }
  }
}

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  clusterKey(); // DELETE URLs are signed with it: a missing key fails the start, not every job
  return startJobActor(ctx, {
    stream: streams.delete, consumer: consumers.deleter, kind: "delete",
    concurrency: cfg.MOGILE_DELETER_CONCURRENCY,
    maxDeliver: cfg.MOGILE_DELETER_MAX_DELIVER,
    retryScheduleMs: cfg.MOGILE_DELETER_RETRY_MS ?? RETRY_MS,
    parse: (data) => DeleteJob.parse(JSON.parse(new TextDecoder().decode(data))),
    fid: (j) => j.fid,
    handle: (job, _attempt, devices, seq) => removeCopies(devices, ctx.store!, ctx.log, job, seq),
  });
}

export const spec: ActorSpec = { role: "deleter", mongo: true, start };
