// Moving one copy of a file from one device to another (drain and rebalance): the destination's
// storage agent pulls the bytes, the new copy is recorded, and only then is the old one forgotten
// and its bytes queued for deletion — so a crash at any point leaves at least the copies we had.
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import type { DeleteJob, ReplicateJob, StorageFetch } from "../../protocol/schemas.ts";
import { httpRequest, readText } from "../../protocol/http.ts";
import { copyIsThere, type DeviceView } from "../runtime/devices.ts";
import type { ClassDoc, FileDoc, Store } from "../runtime/mongo.ts";
import type { Logger } from "../runtime/log.ts";
import { ruleOf } from "../runtime/domain/classes.ts";
import { meets, placement } from "../runtime/domain/policy.ts";
import { added, dropped, placementSet, pruneForgotten } from "../runtime/domain/placements.ts";

const MOVE_WHY = { drain: "its device is being drained", rebalance: "a rebalance evens out device usage" } as const;

export interface MoveDeps {
  store: Store; devices: DeviceView; nc: NatsConnection; js: JetStreamClient; log: Logger;
  /** the class a file lives by (the shared class cache) */
  classOf(file: FileDoc): Promise<ClassDoc>;
  /** new copies of the domain's files are stored protected (signed_get) */
  protects(domain: string): Promise<boolean>;
}

export type MoveResult = { ok: true; length: number } | { ok: false; reason: string; gone?: boolean };

/** Queue the deletion of one copy; the deleter skips it if that copy is recorded again meanwhile. */
export async function deleteCopy(d: Pick<MoveDeps, "js">, fid: number, devid: number, reason: "drain" | "rebalance" | "orphan-replica"): Promise<void> {
  const job: DeleteJob = { fid, devids: [devid], reason };
  await d.js.publish(subjects.deleteJob, JSON.stringify(job), { msgID: `del-${fid}-${devid}-${reason}-${Date.now()}` });
}

/** The digest of a copy as its storage agent computes it (`ALG:hex`); `url` is a signed one. */
export async function digestOf(url: string, alg: string, timeoutMs = 60_000): Promise<string> {
  const res = await httpRequest(`${url}${url.includes("?") ? "&" : "?"}digest=${encodeURIComponent(alg)}`, { method: "GET", timeoutMs });
  const text = (await readText(res)).trim();
  if (res.statusCode !== 200) throw new Error(`digest of ${url.split("?")[0]}: status ${res.statusCode}`);
  return text;
}

/**
 * Copy `fileId`'s copy on `from` to `to`, record it, then forget `from` and queue its deletion.
 * Re-reads the file first: it may have been deleted, replaced or moved since it was planned.
 */
export async function moveCopy(d: MoveDeps, fileId: string, fid: number, from: number, to: number, reason: "drain" | "rebalance"): Promise<MoveResult> {
  const file = await d.store.files.findOne({ _id: fileId });
  if (!file || file.fid !== fid || !file.devids.includes(from)) return { ok: false, reason: "file changed", gone: true };
  // the file may have changed since the move was planned: the new copy must still add a host
  if (file.devids.includes(to)) return { ok: false, reason: `device ${to} already holds a copy` };
  const dest = d.devices.row(to);
  if (!dest || !d.devices.writable(to, file.length)) return { ok: false, reason: `device ${to} cannot take a copy now` };
  const otherHosts = file.devids.filter((x) => x !== from).map((x) => d.devices.devices.get(x)?.hostid);
  if (otherHosts.includes(dest.dev.hostid)) return { ok: false, reason: `host ${dest.dev.hostid} already holds a copy` };
  // read from the device being emptied first (it is readable), else from any other copy
  const sources = [from, ...d.devices.orderForRead(file.devids.filter((x) => x !== from))].filter((x) => d.devices.readable(x));
  let copied = false;
  let lastErr = "no readable source";
  for (const src of sources) {
    const url = d.devices.url(src, fid);
    if (!url) continue;
    const req: StorageFetch = { devid: to, fid, from: url, length: file.length, ...((await d.protects(file.domain)) ? { protected: true } : {}) };
    try {
      const reply = await d.nc.request(subjects.storage(dest.dev.hostid, "fetch"), JSON.stringify(req), { timeout: 30_000 + Math.ceil(file.length / 20_000) });
      const r = reply.json<{ ok: boolean; error?: string; length?: number }>();
      if (r.ok && r.length === file.length) { copied = true; break; }
      lastErr = r.error ?? `copied ${r.length} bytes, expected ${file.length}`;
    } catch (err) {
      lastErr = (err as Error).message;
    }
  }
  if (!copied) return { ok: false, reason: `copy to device ${to} failed: ${lastErr}` };
  if (file.checksum) {
    // a copy that does not match the recorded checksum is never recorded
    const alg = file.checksum.slice(0, file.checksum.indexOf(":"));
    const got = await digestOf(d.devices.signedUrl(to, fid, "GET")!, alg).catch((err: Error) => `error: ${err.message}`);
    if (got.toLowerCase() !== file.checksum.toLowerCase()) {
      await deleteCopy(d, fid, to, "orphan-replica");
      return { ok: false, reason: `copy on device ${to} has checksum ${got}, expected ${file.checksum}` };
    }
  }
  // record first: until the $pull below, the file simply has one copy more than it needs. Not
  // while a deleter is removing an older copy of this fid from `to` (it could delete ours)
  const res = await d.store.files.updateOne({ _id: file._id, fid, deleting: { $nin: [to] } },
    { $addToSet: { devids: to }, $set: placementSet([[to, added(reason, `moved here from dev${from}: ${MOVE_WHY[reason]}`, from)]]) });
  if (res.matchedCount === 0) {
    await deleteCopy(d, fid, to, "orphan-replica");
    const now = await d.store.files.findOne({ _id: file._id, fid });
    if (now) return { ok: false, reason: `device ${to} is being cleared of an older copy of fid ${fid}` };
    return { ok: false, reason: "file deleted or replaced during the copy", gone: true };
  }
  if (!(await copyIsThere(d.devices, to, fid, file.length))) {
    await d.store.files.updateOne({ _id: file._id, fid }, { $pull: { devids: to }, $set: placementSet([[to, dropped(reason, "the moved copy was gone right after it was recorded (a delete of an older copy ended then)")]]) });
    await deleteCopy(d, fid, to, "orphan-replica");
    return { ok: false, reason: `the copy on device ${to} was removed by a delete that ended as it was recorded` };
  }
  return forget(d, file, from, to, reason);
}

/**
 * Forget the old copy, atomically against everything else that changes the file's copies (a
 * surplus drop, another move, fsck): only from the revision we checked, and only if the copies
 * left still meet the class policy — a move never takes a file below its policy.
 */
async function forget(d: MoveDeps, file: FileDoc, from: number, to: number, reason: "drain" | "rebalance"): Promise<MoveResult> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const now = (await d.store.files.findOne({ _id: file._id, fid: file.fid })) as (FileDoc & { _rev?: number; _inc?: string }) | null;
    if (!now) return { ok: false, reason: "file deleted or replaced during the move", gone: true };
    if (!now.devids.includes(to)) return { ok: false, reason: `the new copy on device ${to} was dropped meanwhile` };
    if (!now.devids.includes(from)) {
      // forgotten already (a surplus drop while we copied): the copy we added may be one too
      // many now; the replicator decides (it drops surplus copies under the same guards)
      const job: ReplicateJob = { fid: now.fid, domain: now.domain, key: now.key, reason: "moved", ts: Date.now() };
      await d.js.publish(subjects.replicateJob, JSON.stringify(job), { msgID: `repl-${now.fid}-moved-${Date.now()}` });
      return { ok: true, length: file.length };
    }
    const rest = now.devids.filter((x) => x !== from);
    const rule = ruleOf(await d.classOf(now));
    const { on, live } = placement(d.devices, rest, now.length);
    const zones = new Set([...live, ...on].map((p) => p.zone ?? "")).size;
    if (!meets(rule.policy, on, rule.min, zones)) return { ok: false, reason: `forgetting device ${from} would leave fid ${file.fid} below its policy` };
    // compared on the revision: the record's forgotten entries beyond its bound can go in the same write
    const unset = pruneForgotten(now.placements, rest, [from]);
    const res = await d.store.files.updateOne({ _id: now._id, fid: now.fid, _rev: now._rev ?? { $exists: false }, _inc: now._inc ?? { $exists: false } } as Parameters<typeof d.store.files.updateOne>[0],
      { $pull: { devids: from }, $set: placementSet([[from, dropped(reason, `moved to dev${to}: ${MOVE_WHY[reason]}`, to)]]), ...(Object.keys(unset).length ? { $unset: unset } : {}) });
    if (res.matchedCount === 0) continue; // changed since we looked: look again
    d.nc.publish(subjects.fileChanged, JSON.stringify({ domain: file.domain, key: file.key, fid: file.fid }));
    await deleteCopy(d, file.fid, from, reason);
    return { ok: true, length: file.length };
  }
  return { ok: false, reason: `fid ${file.fid} kept changing during the move` };
}
