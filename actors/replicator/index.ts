// The replicator actor: brings each fid up to its class's mindevcount on distinct hosts.
// The destination storage agent pulls the bytes from a source (storage-to-storage).
import { z } from "zod";
import { streams, consumers, subjects } from "../../protocol/subjects.ts";
import { ReplicateJob, type StorageFetch } from "../../protocol/schemas.ts";
import { actorConfig } from "../runtime/config.ts";
import { sleep, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { DeviceView } from "../runtime/devices.ts";
import { classId, fileId, type FileDoc, type Store } from "../runtime/mongo.ts";
import { startJobLoop, ack, retry, fatal, type Outcome } from "../runtime/jobs.ts";
import { multipleHosts, type Placed } from "./policy.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "../runtime/log.ts";

const Config = z.object({
  /** retry delays in ms for temporary failures, comma-separated (the last one repeats) */
  MOGILE_REPLICATOR_RETRY_MS: z.string().optional().transform((v) => (v ? v.split(",").map(Number).filter((n) => n > 0) : undefined)),
  /** replicate jobs worked on at once by this actor */
  MOGILE_REPLICATOR_CONCURRENCY: z.coerce.number().int().positive().default(64),
  /** deliveries before a job is recorded as failed */
  MOGILE_REPLICATOR_MAX_DELIVER: z.coerce.number().int().positive().default(12),
});

/** temporary failures wait 1 s, 5 s, 15 s, 60 s, 5 min… (±20%) */
const RETRY_MS = [1_000, 5_000, 15_000, 60_000, 300_000, 900_000, 1_800_000];
/** how long a fid may be missing right after create_close queued it (it is linked just after) */
const LINK_GRACE_MS = 60_000;

interface Deps { store: Store; devices: DeviceView; nc: NatsConnection; js: JetStreamClient; log: Logger }

const classCache = new Map<string, { min: number; at: number }>();
/** class mindevcount, cached for a few seconds (classes change rarely; jobs are many) */
async function mindevcount(store: Store, file: FileDoc): Promise<number> {
  const id = classId(file.domain, file.class);
  const hit = classCache.get(id);
  if (hit && Date.now() - hit.at < 5_000) return hit.min;
  const row = await store.classes.findOne({ _id: id });
  const min = row?.mindevcount ?? 2;
  classCache.set(id, { min, at: Date.now() });
  return min;
}

async function findFile(store: Store, job: ReplicateJob, attempt: number): Promise<FileDoc | null> {
  if (attempt === 1 && job.domain !== undefined && job.key !== undefined && job.class !== undefined && job.length !== undefined && job.devids) {
    // first delivery of a create_close job: the job says what was linked; the copy is recorded
    // with a compare on (key, fid), so a file deleted or replaced meanwhile only costs an orphan copy
    return { _id: fileId(job.domain, job.key), fid: job.fid, domain: job.domain, key: job.key, class: job.class, length: job.length, devids: job.devids, createdAt: new Date(0) };
  }
  if (job.domain !== undefined && job.key !== undefined) {
    const doc = await store.files.findOne({ _id: fileId(job.domain, job.key) });
    return doc && doc.fid === job.fid ? doc : null;
  }
  return store.files.findOne({ fid: job.fid });
}

export async function replicate(d: Deps, job: ReplicateJob, attempt = 1): Promise<Outcome> {
  const file = await findFile(d.store, job, attempt);
  if (!file) {
    if (job.ts && Date.now() - job.ts < LINK_GRACE_MS) return retry(`fid ${job.fid} not linked yet`);
    return ack; // deleted or replaced meanwhile: nothing to do
  }
  const min = await mindevcount(d.store, file);
  const failedDevs = new Set<number>();
  let devids = [...file.devids];
  for (let round = 0; round < min + 2; round++) {
    // a copy on a device this actor does not know yet (a host that registered moments ago) is
    // not evidence of loss: wait for the device view rather than give up
    const unknown = devids.filter((devid) => !d.devices.row(devid));
    if (devids.length > 0 && unknown.length === devids.length) return retry(`devices ${unknown.join(",")} are unknown here`);
    const on: Placed[] = devids
      .map((devid) => ({ devid, row: d.devices.row(devid) }))
      .filter((x) => x.row && x.row.dev.status !== "dead")
      .map((x) => ({ devid: x.devid, hostid: x.row!.dev.hostid }));
    const aliveHosts = new Set<number>();
    const liveHosts = new Set<number>();
    for (const [devid, dev] of d.devices.devices) {
      if (d.devices.writable(devid)) aliveHosts.add(dev.hostid);
      if (dev.status === "alive" && d.devices.hosts.get(dev.hostid)?.status === "alive") liveHosts.add(dev.hostid);
    }
    const answer = multipleHosts(on, min, aliveHosts, liveHosts);
    if (answer.kind === "satisfied") return ack;
    if (answer.kind === "no_source") return fatal(`fid ${file.fid} has no copy on a live device`);
    if (answer.kind === "wait") return retry(answer.reason);

    const avoidDevs = new Set([...devids, ...failedDevs]);
    const [dest] = d.devices.choose(1, { size: file.length, avoidHosts: answer.avoidHosts, avoidDevs });
    if (!dest) return retry(`no device can take a copy of fid ${file.fid} now`);
    const sources = d.devices.orderForRead(on.map((p) => p.devid));
    if (sources.length === 0) return retry(`no readable source for fid ${file.fid}`);

    const err = await copy(d, file, sources, dest);
    if (err) {
      d.log.warn("copy failed", { fid: file.fid, dest, err });
      failedDevs.add(dest);
      continue;
    }
    const recorded = await recordCopy(d, file, dest, job);
    // deleted or replaced while we copied: our copy is garbage
    if (recorded === "gone") return orphan(d, file.fid, dest);
    if (recorded === "not_yet") {
      // the next delivery starts from the database; this copy is unrecorded, so it goes (the
      // deleter re-checks the record first, in case a later copy lands on the same device)
      await orphan(d, file.fid, dest);
      return retry(`fid ${file.fid} not linked yet`);
    }
    devids.push(dest);
    d.nc.publish(subjects.fileChanged, JSON.stringify({ domain: file.domain, key: file.key, fid: file.fid }));
  }
  return retry(`fid ${file.fid} still below policy after ${min + 2} rounds`);
}

/**
 * Add the copy to the file's locations, compared on (key, fid). create_close queues the job just
 * before it links the key, so a young job may find nothing to update yet: wait a moment, then
 * retry the job later rather than throw the copy away.
 */
async function recordCopy(d: Deps, file: FileDoc, dest: number, job: ReplicateJob): Promise<"ok" | "gone" | "not_yet"> {
  for (let wait = 20; ; wait *= 2) {
    const res = await d.store.files.updateOne({ _id: file._id, fid: file.fid }, { $addToSet: { devids: dest } });
    if (res.matchedCount > 0) return "ok";
    const young = job.ts !== undefined && Date.now() - job.ts < LINK_GRACE_MS;
    if (!young) return "gone";
    const doc = await d.store.files.findOne({ _id: file._id }, { projection: { fid: 1 } });
    if (doc && doc.fid !== file.fid) return "gone"; // replaced by a newer version
    if (wait > 400) return "not_yet";
    await sleep(wait);
  }
}

async function orphan(d: Deps, fid: number, devid: number): Promise<Outcome> {
  await d.js.publish(subjects.deleteJob, JSON.stringify({ fid, devids: [devid], reason: "orphan-replica" }));
  return ack;
}

/** Ask the destination's storage agent to pull the fid from the first source that works. */
async function copy(d: Deps, file: FileDoc, sources: number[], dest: number): Promise<string | null> {
  const row = d.devices.row(dest);
  if (!row) return `device ${dest} unknown`;
  let lastErr = "no source";
  for (const src of sources) {
    const from = d.devices.url(src, file.fid);
    if (!from) continue;
    const req: StorageFetch = { devid: dest, fid: file.fid, from, length: file.length };
    try {
      // big files get time in proportion (≥ 20 MB/s assumed)
      const timeout = 30_000 + Math.ceil(file.length / 20_000);
      const reply = await d.nc.request(subjects.storage(row.dev.hostid, "fetch"), JSON.stringify(req), { timeout });
      const r = reply.json<{ ok: boolean; error?: string; length?: number }>();
      if (r.ok && r.length === file.length) return null;
      lastErr = r.error ?? `copied ${r.length} bytes, expected ${file.length}`;
    } catch (err) {
      lastErr = (err as Error).message;
      if (/no responders/i.test(lastErr)) return `storage host ${row.dev.hostid} is not answering`;
    }
  }
  return lastErr;
}

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const devices = new DeviceView(ctx.store!, ctx.log);
  await devices.start(ctx.nc);
  const deps: Deps = { store: ctx.store!, devices, nc: ctx.nc, js: jetstream(ctx.nc), log: ctx.log };
  const loop = await startJobLoop({
    nc: ctx.nc, store: ctx.store!, log: ctx.log,
    stream: streams.replicate, consumer: consumers.replicator, kind: "replicate",
    concurrency: cfg.MOGILE_REPLICATOR_CONCURRENCY,
    maxDeliver: cfg.MOGILE_REPLICATOR_MAX_DELIVER,
    retryScheduleMs: cfg.MOGILE_REPLICATOR_RETRY_MS ?? RETRY_MS,
    parse: (data) => ReplicateJob.parse(JSON.parse(new TextDecoder().decode(data))),
    fid: (j) => j.fid,
    handle: (job, attempt) => replicate(deps, job, attempt),
  });
  return {
    stopped: loop.stopped,
    async stop() {
      await loop.stop();
      devices.stop();
    },
  };
}

export const spec: ActorSpec = { role: "replicator", mongo: true, start };
