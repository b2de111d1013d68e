// Rebalance planning: which devices give copies away, which take them, and which files move where.
// Usage is the bytes of recorded copies per device (metadata), weighed by each device's capacity,
// so devices that share a filesystem (tests, one-disk hosts) still balance. rebalance_test and the
// fsck actor's run use the same plan: the dry run reports exactly what a run would start with.
import type { DeviceView } from "../devices.ts";
import { MIN_FREE_BYTES } from "../devices.ts";
import type { Store } from "../mongo.ts";
import type { RebalancePolicy } from "./rebalance_policy.ts";

export interface DevInfo {
  devid: number; hostid: number;
  /** may give copies away: host and device alive, readable */
  source: boolean;
  /** may take copies: writable now */
  dest: boolean;
  /** observed disk bytes (0 when unknown) */
  total: number; used: number; free: number;
  /** bytes of the copies recorded on it */
  stored: number;
}
export interface FileRef { _id: string; fid: number; length: number; devids: number[] }
export interface Move { file: FileRef; from: number; to: number }
export interface Plan { sdevs: number[]; ddevs: number[]; moves: Move[]; files: number; bytes: number }

/** Every device's state, observed usage and stored bytes. */
export async function deviceInfo(view: DeviceView, store: Store): Promise<DevInfo[]> {
  const out: DevInfo[] = [];
  await Promise.all([...view.devices.values()].map(async (dev) => {
    if (dev.status === "dead") return;
    const r = view.row(dev._id);
    if (!r) return;
    let stored = 0;
    for await (const f of store.files.find({ devids: dev._id }, { projection: { length: 1 } })) stored += f.length ?? 0;
    out.push({
      devid: dev._id, hostid: dev.hostid,
      source: r.host.status === "alive" && dev.status === "alive" && view.readable(dev._id),
      dest: view.writable(dev._id),
      total: r.observed?.total ?? 0, used: r.observed?.used ?? 0, free: r.observed?.free ?? 0,
      stored,
    });
  }));
  return out.sort((a, b) => a.devid - b.devid);
}

const MB = 1024 * 1024;
const pct = (part: number, whole: number) => (whole > 0 ? (100 * part) / whole : 0);

/** Devices allowed by the policy as sources and as destinations (before looking at usage). */
export function candidates(devs: DevInfo[], p: RebalancePolicy): { sources: DevInfo[]; dests: DevInfo[] } {
  const sources = devs.filter((d) =>
    d.source &&
    (!p.fromDevices || p.fromDevices.includes(d.devid)) && (!p.fromHosts || p.fromHosts.includes(d.hostid)) &&
    (p.fromPercentUsed === undefined || pct(d.used, d.total) >= p.fromPercentUsed) &&
    (p.fromPercentFree === undefined || pct(d.free, d.total) <= p.fromPercentFree) &&
    (p.fromSpaceUsed === undefined || d.used / MB >= p.fromSpaceUsed) &&
    (p.fromSpaceFree === undefined || d.free / MB <= p.fromSpaceFree));
  const dests = devs.filter((d) =>
    d.dest &&
    (!p.toDevices || p.toDevices.includes(d.devid)) && (!p.toHosts || p.toHosts.includes(d.hostid)) &&
    !p.notToDevices?.includes(d.devid) && !p.notToHosts?.includes(d.hostid) &&
    (p.toPercentUsed === undefined || pct(d.used, d.total) <= p.toPercentUsed) &&
    (p.toPercentFree === undefined || pct(d.free, d.total) >= p.toPercentFree) &&
    (p.toSpaceUsed === undefined || d.used / MB <= p.toSpaceUsed) &&
    (p.toSpaceFree === undefined || d.free / MB >= p.toSpaceFree));
  return { sources, dests };
}

export interface PlanOptions {
  /** moves in this plan at most (a run plans in rounds) */
  maxMoves: number;
  /** already moved in this run, counted against the policy limit */
  moved: { files: number; bytes: number };
  /** the host of any device (a file's other copies may be anywhere) */
  hostOf(devid: number): number | undefined;
  /** a source's files, in the policy's fid order */
  filesOf(devid: number): AsyncIterable<FileRef>;
}

/**
 * Sources are allowed devices above their capacity share of the stored bytes, destinations allowed
 * devices below it. A file moves only when the source's excess before the move is larger than the
 * destination's excess after it: every move strictly lowers the spread, so runs always end, and
 * never onto a host that already holds another copy of the file (placement never gets worse).
 */
export async function plan(devs: DevInfo[], p: RebalancePolicy, o: PlanOptions): Promise<Plan> {
  const { sources, dests } = candidates(devs, p);
  const set = new Map<number, DevInfo>([...sources, ...dests].map((d) => [d.devid, d]));
  const all = [...set.values()];
  const sum = all.reduce((s, d) => s + d.stored, 0);
  const capKnown = all.every((d) => d.total > 0);
  const capSum = all.reduce((s, d) => s + (capKnown ? d.total : 1), 0);
  const excess = new Map<number, number>();
  const tol = new Map<number, number>();
  for (const d of all) {
    const target = capSum ? (sum * (capKnown ? d.total : 1)) / capSum : 0;
    excess.set(d.devid, d.stored - target);
    tol.set(d.devid, Math.max(1, target * 0.02));
  }
  const srcs = sources.filter((d) => excess.get(d.devid)! > tol.get(d.devid)!).sort((a, b) => excess.get(b.devid)! - excess.get(a.devid)!);
  const srcIds = new Set(srcs.map((d) => d.devid));
  const dsts = dests.filter((d) => excess.get(d.devid)! < 0 && !srcIds.has(d.devid));
  const reserved = new Map<number, number>();
  /** one move per file per plan: a file on two sources would otherwise move twice from a stale view */
  const planned = new Set<number>();
  const moves: Move[] = [];
  let files = 0, bytes = 0;
  const limited = () =>
    (p.limitBy === "count" && o.moved.files + files >= p.limit) || (p.limitBy === "size" && o.moved.bytes + bytes >= p.limit);

  outer: for (const s of srcs) {
    for await (const f of o.filesOf(s.devid)) {
      if (excess.get(s.devid)! <= tol.get(s.devid)!) break;
      if (moves.length >= o.maxMoves || limited()) break outer;
      const L = f.length;
      if (L <= 0 || !f.devids.includes(s.devid) || planned.has(f.fid)) continue;
      if (p.limitBy === "size" && o.moved.bytes + bytes + L > p.limit) continue;
      const otherHosts = new Set(f.devids.filter((d) => d !== s.devid).map(o.hostOf));
      let best: DevInfo | null = null;
      for (const d of dsts) {
        const x = excess.get(d.devid)!;
        if (f.devids.includes(d.devid) || otherHosts.has(d.hostid)) continue;
        if (!(x < 0 && excess.get(s.devid)! > x + L)) continue;
        if (d.free && d.free - (reserved.get(d.devid) ?? 0) - L < MIN_FREE_BYTES) continue;
        if (!best || x < excess.get(best.devid)!) best = d;
      }
      if (!best) continue;
      excess.set(s.devid, excess.get(s.devid)! - L);
      excess.set(best.devid, excess.get(best.devid)! + L);
      reserved.set(best.devid, (reserved.get(best.devid) ?? 0) + L);
      moves.push({ file: f, from: s.devid, to: best.devid });
      planned.add(f.fid);
      files++;
      bytes += L;
    }
  }
  return { sdevs: srcs.map((d) => d.devid), ddevs: dsts.map((d) => d.devid), moves, files, bytes };
}

/** A device's recorded files in fid order (the policy's fid_age), for planning. */
export function filesOn(store: Store, devid: number, fidAge: "old" | "new"): AsyncIterable<FileRef> {
  return store.files.find({ devids: devid }, { projection: { _id: 1, fid: 1, length: 1, devids: 1 } }).sort({ fid: fidAge === "old" ? 1 : -1 }) as unknown as AsyncIterable<FileRef>;
}
