// fsck of one file: every recorded copy is checked (exists, length, checksum) and the class policy
// evaluated; bad copies are forgotten, missing ones re-replicated, and each finding is an event
// with its MogileFS code (NOPA, POVI, MISS, BLEN, BSUM, NSUM, MSUM, BALG, SRCH, FOND, GONE, REPL).
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { subjects } from "../../protocol/subjects.ts";
import type { FsckEvcode, ReplicateJob } from "../../protocol/schemas.ts";
import { headLength } from "../../protocol/http.ts";
import { copyIsThere, type DeviceView } from "../runtime/devices.ts";
import type { ClassDoc, FileDoc, Store } from "../runtime/mongo.ts";
import { decide, placement } from "../runtime/domain/policy.ts";
import { ruleOf } from "../runtime/domain/classes.ts";
import type { Logger } from "../runtime/log.ts";
import { deleteCopy, digestOf } from "./move.ts";
import { added, dropped, placementSet } from "../runtime/domain/placements.ts";

/** why fsck forgets a copy, by what it found */
const FORGET_WHY: Record<string, string> = {
  missing: "fsck found the copy missing", badlen: "fsck found the copy with the wrong length",
  badsum: "fsck found the copy with the wrong checksum", dead: "fsck forgot the copy: its device is dead or unknown",
};

export interface FsckEvent { fid: number; evcode: FsckEvcode; devid?: number }
export interface CheckDeps { store: Store; devices: DeviceView; nc: NatsConnection; js: JetStreamClient; log: Logger; classOf(file: FileDoc): Promise<ClassDoc> }
export interface CheckOptions {
  policyOnly: boolean;
  /** the checksum algorithm to verify copies with, or null */
  checksumAlg: string | null;
}
/** `retry`: a copy's device did not answer; the fid is checked again later */
export type CheckResult = { events: FsckEvent[]; retry: boolean };

/**
 * Does the class policy hold for copies on `devids`? The replicator's own answer (same placement,
 * zones and all): met when it would do nothing or only drop a surplus copy.
 */
export function policyMet(cls: ClassDoc, devids: number[], size: number, view: DeviceView): boolean {
  const { min, policy } = ruleOf(cls);
  const answer = decide({ policy, min, ...placement(view, devids, size) });
  return answer.kind === "satisfied" || answer.kind === "too_many";
}

type CopyState = "good" | "missing" | "badlen" | "badsum" | "unreachable" | "dead";

export async function checkFile(d: CheckDeps, file: FileDoc, o: CheckOptions): Promise<CheckResult> {
  const events: FsckEvent[] = [];
  const ev = (evcode: FsckEvcode, devid?: number) => events.push(devid === undefined ? { fid: file.fid, evcode } : { fid: file.fid, evcode, devid });
  const cls = await d.classOf(file);

  if (file.devids.length === 0) ev("NOPA");
  else if (!policyMet(cls, file.devids, file.length, d.devices)) ev("POVI");

  const state = new Map<number, CopyState>();
  const digests = new Map<number, string>();
  const alg = o.checksumAlg;
  if (!o.policyOnly) {
    await Promise.all(file.devids.map(async (devid) => {
      const row = d.devices.row(devid);
      if (!row || row.dev.status === "dead") { state.set(devid, "dead"); return; }
      const url = d.devices.signedUrl(devid, file.fid, "GET")!;
      try {
        const len = await headLength(url, 10_000);
        if (len === null) { state.set(devid, "missing"); ev("MISS", devid); return; }
        if (len !== file.length) { state.set(devid, "badlen"); ev("BLEN", devid); return; }
        state.set(devid, "good");
        if (alg) digests.set(devid, await digestOf(url, alg));
      } catch {
        state.set(devid, "unreachable");
      }
    }));
    // a device that did not answer says nothing about its copy: check the whole file again later
    if ([...state.values()].includes("unreachable")) return { events: events.filter((e) => e.evcode !== "NOPA" && e.evcode !== "POVI"), retry: true };
    const learned = alg && digests.size ? reconcileChecksums(file, alg, cls, digests, state, ev) : null;
    if (learned) await d.store.files.updateOne({ _id: file._id, fid: file.fid }, { $set: { checksum: learned } });
  }

  let good = o.policyOnly ? [...file.devids] : file.devids.filter((x) => state.get(x) === "good");
  if (!o.policyOnly && good.length === 0) {
    // no good copy where we expected one: look on every other device before giving up
    ev("SRCH");
    const found = await search(d, file);
    if (found !== null) {
      ev("FOND", found);
      // not while a deleter is clearing that device of this fid (the copy found may be what it deletes)
      const res = await d.store.files.updateOne({ _id: file._id, fid: file.fid, deleting: { $nin: [found] } },
        { $addToSet: { devids: found }, $set: placementSet([[found, added("fsck", "found by fsck on a device the file did not list, when no listed copy was good")]]) });
      if (res.modifiedCount > 0 && !(await copyIsThere(d.devices, found, file.fid, file.length))) {
        await d.store.files.updateOne({ _id: file._id, fid: file.fid }, { $pull: { devids: found }, $set: placementSet([[found, dropped("fsck", "the copy fsck found was gone again")]]) });
      } else if (res.matchedCount > 0) good = [found];
    }
  }
  if (good.length === 0) {
    // keep the records of wrong copies: a damaged copy is worth more than none
    const forget = file.devids.filter((x) => state.get(x) === "missing" || state.get(x) === "dead");
    if (forget.length) await pull(d, file, forget, state);
    ev("GONE");
    return { events, retry: false };
  }
  const bad = file.devids.filter((x) => !good.includes(x));
  if (bad.length) await pull(d, file, bad, state);
  if (!policyMet(cls, good, file.length, d.devices)) {
    const job: ReplicateJob = { fid: file.fid, domain: file.domain, key: file.key, reason: "fsck", ts: Date.now() };
    await d.js.publish(subjects.replicateJob, JSON.stringify(job), { msgID: `repl-${file.fid}-fsck-${Date.now()}` });
    ev("REPL");
  }
  return { events, retry: false };
}

/** MogileFS checksum reconciliation (§8): copies against each other and against the stored checksum. */
/** Returns the checksum to store when the file had none (NSUM), else null. */
function reconcileChecksums(file: FileDoc, alg: string, cls: ClassDoc, digests: Map<number, string>, state: Map<number, CopyState>, ev: (c: FsckEvcode, devid?: number) => void): string | null {
  const stored = file.checksum ?? null;
  const values = new Set([...digests.values()].map((s) => s.toLowerCase()));
  if (stored && !stored.startsWith(`${alg}:`)) { ev("BALG"); return null; }
  if (stored) {
    const matching = [...digests].filter(([, v]) => v.toLowerCase() === stored.toLowerCase());
    if (matching.length === 0) { ev("BSUM"); return null; } // every copy differs: keep them, an operator decides
    for (const [devid, v] of digests) if (v.toLowerCase() !== stored.toLowerCase()) { state.set(devid, "badsum"); ev("BSUM", devid); }
    return null;
  }
  if (values.size > 1) { ev(cls.hashtype === alg ? "BSUM" : "MSUM"); return null; }
  if (cls.hashtype !== alg) return null;
  // every copy agrees and the class keeps checksums: store it (NSUM)
  ev("NSUM");
  return [...digests.values()][0];
}

/** Forget copies that are missing or bad; the bytes of bad ones go too (the deleter re-checks first). */
async function pull(d: CheckDeps, file: FileDoc, devids: number[], state: Map<number, CopyState>) {
  for (const devid of devids) {
    const why = dropped("fsck", FORGET_WHY[state.get(devid) ?? ""] ?? "fsck forgot the copy");
    // matched only while the copy is listed: the $set would count as a change even when the $pull is not
    const res = await d.store.files.updateOne({ _id: file._id, fid: file.fid, devids: devid }, { $pull: { devids: devid }, $set: placementSet([[devid, why]]) });
    if (res.modifiedCount > 0 && d.devices.row(devid)?.dev.status !== "dead") await deleteCopy(d, file.fid, devid, "orphan-replica");
  }
  d.nc.publish(subjects.fileChanged, JSON.stringify({ domain: file.domain, key: file.key, fid: file.fid }));
}

/** A copy of the right length on a device not recorded for the file, or null. */
async function search(d: CheckDeps, file: FileDoc): Promise<number | null> {
  for (const devid of d.devices.devices.keys()) {
    if (file.devids.includes(devid) || !d.devices.readable(devid)) continue;
    const len = await headLength(d.devices.signedUrl(devid, file.fid, "GET")!, 5_000).catch(() => null);
    if (len === file.length) return devid;
  }
  return null;
}
