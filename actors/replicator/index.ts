// The replicator actor: brings each fid up to its class's replication policy (MultipleHosts,
// MultipleDevices, MultipleNetworks), verifies each copy's digest, and drops surplus copies.
// The destination storage agent pulls the bytes from a source (storage-to-storage).
import { z } from "zod";
import { streams, consumers, subjects } from "../../protocol/subjects.ts";
import { ReplicateJob, type StorageFetch } from "../../protocol/schemas.ts";
import { actorConfig } from "../runtime/config.ts";
import { sleep, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { copyIsThere, type DeviceView } from "../runtime/devices.ts";
import { fileId, type FileDoc, type Store } from "../runtime/mongo.ts";
import { startJobActor, retryScheduleEnv, ack, retry, fatal, type Outcome } from "../runtime/jobs.ts";
import { decide, placement } from "../runtime/domain/policy.ts";
import { ClassCache, DEFAULT_HASHTYPE, ruleOf, type ClassRule } from "../runtime/domain/classes.ts";
import { dropped, lackOf, placementSet, policyText, replicatedRecord, zonesOf } from "../runtime/domain/placements.ts";
import type { PlacementRecord } from "../../protocol/schemas.ts";
import { DomainCache } from "../runtime/domain/domains.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { copyMade, policyMet } from "../runtime/replication_metrics.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "../runtime/log.ts";

const Config = z.object({
  /** retry delays in ms for temporary failures, comma-separated (the last one repeats) */
  MOGILE_REPLICATOR_RETRY_MS: retryScheduleEnv,
  /** replicate jobs worked on at once by this actor */
  MOGILE_REPLICATOR_CONCURRENCY: z.coerce.number().int().positive().default(64),
  /** deliveries before a job is recorded as failed */
  MOGILE_REPLICATOR_MAX_DELIVER: z.coerce.number().int().positive().default(12),
});

/** temporary failures wait 1 s, 5 s, 15 s, 60 s, 5 min… (±20%) */
const RETRY_MS = [1_000, 5_000, 15_000, 60_000, 300_000, 900_000, 1_800_000];
/** how long a fid may be missing right after create_close queued it (it is linked just after) */
const LINK_GRACE_MS = 60_000;

interface Deps { store: Store; devices: DeviceView; nc: NatsConnection; js: JetStreamClient; log: Logger; classes: ClassCache; domains: DomainCache }

async function findFile(store: Store, job: ReplicateJob, attempt: number): Promise<FileDoc | null> {
  if (attempt === 1 && job.domain !== undefined && job.key !== undefined && job.class !== undefined && job.length !== undefined && job.devids) {
    // first delivery of a create_close job: the job says what was linked; the copy is recorded
    // with a compare on the fid, so a file deleted or replaced meanwhile only costs an orphan copy
    return { _id: fileId(job.domain, job.key), fid: job.fid, domain: job.domain, key: job.key, class: job.class, length: job.length, devids: job.devids, checksum: job.checksum ?? null, createdAt: new Date(0) };
  }
  // jobs address the fid; the key is only a hint (a rename moves the fid to another key)
  if (job.domain !== undefined && job.key !== undefined) {
    const doc = await store.files.findOne({ _id: fileId(job.domain, job.key) });
    if (doc && doc.fid === job.fid) return doc;
  }
  return store.files.findOne({ fid: job.fid });
}

export async function replicate(d: Deps, job: ReplicateJob, attempt = 1): Promise<Outcome> {
  let file = await findFile(d.store, job, attempt);
  if (!file) {
    if (job.ts && Date.now() - job.ts < LINK_GRACE_MS) return retry(`fid ${job.fid} not linked yet`);
    return ack; // deleted or replaced meanwhile: nothing to do
  }
  if (job.reason === "updateclass" && job.class !== undefined && file.class !== job.class && job.ts && Date.now() - job.ts < LINK_GRACE_MS) {
    // queued just before the class change is recorded (see updateclass)
    return retry(`class change of fid ${job.fid} to ${job.class} not recorded yet`);
  }
  // a class deleted since the file was written: the domain's default class rule
  const rule = ruleOf(await d.classes.forFile(file));
  const failedDevs = new Set<number>();
  let devids = [...file.devids];
  for (let round = 0; round < rule.min + 2; round++) {
    // a copy on a device this actor does not know yet (a host that registered moments ago) is
    // not evidence of loss: wait for the device view rather than give up
    const unknown = devids.filter((devid) => !d.devices.row(devid));
    if (devids.length > 0 && unknown.length === devids.length) return retry(`devices ${unknown.join(",")} are unknown here`);
    const { on, writable, live } = placement(d.devices, devids, file.length, failedDevs);
    const answer = decide({ policy: rule.policy, on, min: rule.min, writable, live });
    if (answer.kind === "satisfied") { policyMet(job); return ack; }
    if (answer.kind === "no_source") return fatal(`fid ${file.fid} has no copy on a live device`);
    if (answer.kind === "wait") return retry(answer.reason);
    if (answer.kind === "too_many") {
      if (!(await dropSurplus(d, file, devids, answer.devid, rule))) return retry(`locations of fid ${file.fid} changed; surplus copy kept for now`);
      devids = devids.filter((x) => x !== answer.devid);
      continue;
    }

    const [dest] = d.devices.choose(1, { size: file.length, only: new Set(answer.devids), distinctHosts: false });
    if (!dest) return retry(`no device can take a copy of fid ${file.fid} now`);
    const sources = d.devices.orderForRead(on.map((p) => p.devid));
    if (sources.length === 0) return retry(`no readable source for fid ${file.fid}`);

    const res = await copy(d, file, sources, dest, rule.hashtype);
    // why this copy: recorded with it, in the same update
    const why = replicatedRecord({ reason: job.reason, lost: job.lost, policy: policyText(rule.policy, rule.min), lack: lackOf(rule.policy, on, rule.min, zonesOf(on, live)), desperate: answer.desperate });
    if (res.err !== null) {
      d.log.warn("copy failed", { fid: file.fid, dest, err: res.err });
      // every source's bytes differ from the stored checksum: other destinations would not help
      if (res.badSources) return retry(`every readable copy of fid ${file.fid} differs from its checksum ${file.checksum}`);
      failedDevs.add(dest);
      // a copy the destination stored but whose digest is wrong (an agent that did not check) goes
      if (res.stored) await orphan(d, file.fid, dest);
      continue;
    }
    const recorded = await recordCopy(d, file, dest, job, why);
    // deleted or replaced while we copied: our copy is garbage
    if (recorded.kind === "gone") return orphan(d, file.fid, dest);
    if (recorded.kind === "fenced") {
      // a deleter is removing an older copy of this fid from that device: go elsewhere (and make
      // sure our bytes there go too, whether its delete came before or after our copy)
      await orphan(d, file.fid, dest);
      failedDevs.add(dest);
      continue;
    }
    if (recorded.kind === "not_yet") {
      // the next delivery starts from the database; this copy is unrecorded, so it goes (the
      // deleter re-checks the record first, in case a later copy lands on the same device)
      await orphan(d, file.fid, dest);
      return retry(`fid ${file.fid} not linked yet`);
    }
    // a delete of an older copy of this fid on `dest` may have ended just before we recorded
    // ours (its fence was down by then): make sure the bytes we recorded are there
    if (!(await copyIsThere(d.devices, dest, file.fid, file.length))) {
      await d.store.files.updateOne({ _id: recorded.id, fid: file.fid }, { $pull: { devids: dest }, $set: placementSet([[dest, dropped(why.cause, "the new copy was gone right after it was recorded (a delete of an older copy ended then)")]]) });
      // a get_paths between the record and the pull may have cached the copy: drop that answer
      fileChanged(d, file);
      await orphan(d, file.fid, dest);
      failedDevs.add(dest);
      continue;
    }
    file = { ...file, _id: recorded.id };
    if (res.digest && !file.checksum && rule.hashtype !== DEFAULT_HASHTYPE && res.digest.startsWith(`${rule.hashtype}:`)) {
      // MogileFS: a class with a hashtype and no stored checksum keeps the first copy's digest
      await d.store.files.updateOne({ _id: file._id, fid: file.fid, checksum: null }, { $set: { checksum: res.digest } });
      file = { ...file, checksum: res.digest };
    }
    devids.push(dest);
    copyMade(file.length);
    fileChanged(d, file);
  }
  return retry(`fid ${file.fid} still below policy after ${rule.min + 2} rounds`);
}

/**
 * One copy more than the policy needs (a class's mindevcount went down, or a desperate copy
 * after a host came back): forget it only if the locations are still exactly what the policy saw
 * (a compare-and-set on the whole array, so two replicators can never both drop one), then delete it.
 */
async function dropSurplus(d: Deps, file: FileDoc, devids: number[], devid: number, rule: ClassRule): Promise<boolean> {
  const why = dropped("surplus", `one copy more than ${policyText(rule.policy, rule.min)} needs: the readable copies left still meet it`);
  const res = await d.store.files.updateOne(
    { _id: file._id, fid: file.fid, devids: { $all: devids, $size: devids.length } },
    { $pull: { devids: devid }, $set: placementSet([[devid, why]]) },
  );
  if (res.modifiedCount === 0) return false;
  d.log.info("dropped a surplus copy", { fid: file.fid, devid });
  fileChanged(d, file);
  // the deleter checks the record again first, in case a later copy lands on the same device
  await orphan(d, file.fid, devid);
  return true;
}

type Recorded = { kind: "ok"; id: string } | { kind: "gone" } | { kind: "not_yet" } | { kind: "fenced" };

/**
 * Add the copy to the file's locations, compared on the fid, under whichever key names the fid
 * now (a rename moves it). Refused while a deleter is removing this fid's bytes from `dest`
 * ("fenced": our copy may be what it deletes). create_close queues the job just before it links
 * the key, so a young job may find nothing yet: wait a moment, then retry the job later.
 */
async function recordCopy(d: Deps, file: FileDoc, dest: number, job: ReplicateJob, why: PlacementRecord): Promise<Recorded> {
  let id = file._id;
  let wait = 20;
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await d.store.files.updateOne({ _id: id, fid: file.fid, deleting: { $nin: [dest] } }, { $addToSet: { devids: dest }, $set: placementSet([[dest, why]]) });
    if (res.matchedCount > 0) return { kind: "ok", id };
    const doc = (await d.store.files.findOne({ _id: id, fid: file.fid })) ?? (await d.store.files.findOne({ fid: file.fid }));
    if (doc) {
      if (doc.deleting?.includes(dest)) return { kind: "fenced" };
      id = doc._id; // renamed meanwhile: record it under the key that names the fid now
      continue;
    }
    const young = job.ts !== undefined && Date.now() - job.ts < LINK_GRACE_MS;
    if (!young) return { kind: "gone" };
    // The key naming another fid proves nothing while the job is young: it may be the version
    // this one is about to replace (create_close queues the job, then links), and fids come from
    // per-actor blocks, so their order does not say which is newer. Only the grace period does:
    // a fid still unlinked after it was replaced (or its close failed), and the job ends then.
    if (wait > 400) return { kind: "not_yet" };
    await sleep(wait);
    wait *= 2;
  }
  return { kind: "not_yet" };
}

async function orphan(d: Deps, fid: number, devid: number): Promise<Outcome> {
  await d.js.publish(subjects.deleteJob, JSON.stringify({ fid, devids: [devid], reason: "orphan-replica" }));
  return ack;
}

interface CopyResult {
  err: string | null;
  /** bytes landed on the destination under the fid's name */
  stored: boolean;
  digest?: string;
  /** every source tried had the wrong digest */
  badSources?: boolean;
}

/**
 * Ask the destination's storage agent to pull the fid from the first source that works. For a
 * class with a hashtype the agent hashes while streaming and refuses a copy whose digest is not
 * the stored checksum; the digest it reports is checked here again.
 */
async function copy(d: Deps, file: FileDoc, sources: number[], dest: number, hashtype: string): Promise<CopyResult> {
  const row = d.devices.row(dest);
  if (!row) return { err: `device ${dest} unknown`, stored: false };
  const hashed = hashtype !== DEFAULT_HASHTYPE;
  const expect = hashed && file.checksum?.startsWith(`${hashtype}:`) ? file.checksum : undefined;
  let last: CopyResult = { err: "no source", stored: false };
  let tried = 0;
  let mismatched = 0;
  // copies of a signed_get domain's files are stored protected (a protected source makes it so too)
  const protect = await d.domains.protects(file.domain);
  for (const src of sources) {
    const from = d.devices.url(src, file.fid);
    if (!from) continue;
    tried++;
    const req: StorageFetch = { devid: dest, fid: file.fid, from, length: file.length, ...(hashed ? { hashtype, checksum: expect } : {}), ...(protect ? { protected: true } : {}) };
    try {
      // big files get time in proportion (≥ 20 MB/s assumed)
      const timeout = 30_000 + Math.ceil(file.length / 20_000);
      const reply = await d.nc.request(subjects.storage(row.dev.hostid, "fetch"), JSON.stringify(req), { timeout });
      const r = reply.json<{ ok: boolean; error?: string; length?: number; digest?: string }>();
      if (!r.ok) {
        if (r.error?.startsWith("digest mismatch")) mismatched++;
        last = { err: r.error ?? "fetch failed", stored: false };
        continue;
      }
      if (r.length !== file.length) { last = { err: `copied ${r.length} bytes, expected ${file.length}`, stored: true }; continue; }
      if (expect && r.digest?.toLowerCase() !== expect.toLowerCase()) {
        // this source's bytes are bad (or the agent skipped the check): try the next source
        mismatched++;
        last = { err: `digest mismatch: copy from device ${src} has ${r.digest ?? "none"}, expected ${expect}`, stored: true };
        continue;
      }
      return { err: null, stored: true, digest: r.digest };
    } catch (err) {
      const msg = (err as Error).message;
      if (/no responders/i.test(msg)) return { err: `storage host ${row.dev.hostid} is not answering`, stored: last.stored };
      last = { err: msg, stored: last.stored };
    }
  }
  return { ...last, badSources: tried > 0 && mismatched === tried };
}

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  clusterKey(); // copies are checked through signed URLs: a missing key fails the start, not every job
  const js = jetstream(ctx.nc);
  const classes = new ClassCache(ctx.store!);
  const domains = new DomainCache(ctx.store!);
  return startJobActor(ctx, {
    stream: streams.replicate, consumer: consumers.replicator, kind: "replicate",
    concurrency: cfg.MOGILE_REPLICATOR_CONCURRENCY,
    maxDeliver: cfg.MOGILE_REPLICATOR_MAX_DELIVER,
    retryScheduleMs: cfg.MOGILE_REPLICATOR_RETRY_MS ?? RETRY_MS,
    parse: (data) => ReplicateJob.parse(JSON.parse(new TextDecoder().decode(data))),
    fid: (j) => j.fid,
    handle: (job, attempt, devices) => replicate({ store: ctx.store!, devices, nc: ctx.nc, js, log: ctx.log, classes, domains }, job, attempt),
  });
}

export const spec: ActorSpec = { role: "replicator", mongo: true, start };

/** tell query actors (and the legacy tracker) that the file's copies changed: their cached paths go */
function fileChanged(d: Deps, file: Pick<FileDoc, "domain" | "key" | "fid">): void {
  d.nc.publish(subjects.fileChanged, JSON.stringify({ domain: file.domain, key: file.key, fid: file.fid }));
}
