// Why each copy of a file is where it is: the placement record on the file document. Every writer
// that adds or forgets a copy sets `placements.d<devid>` in the same update that changes `devids`
// (no extra round trip), so the record and the copies never disagree after a crash.
//
// Bounded: one entry per device, the last decision about it; entries of forgotten copies beyond
// MAX_FORGOTTEN are pruned by writers that read the document anyway (moves). A capped array
// (`$push` with `$each` + `$slice`) would be the MongoDB way, but FerretDB v1 applies `$each` and
// silently ignores `$slice` (internal/handler/common/update_array_operators.go), so the array
// would grow without bound on the embedded store. Entries hold no arrays (FerretDB v1: no nested arrays).
import type { PlacementCause, PlacementRecord } from "../../../protocol/schemas.ts";
import type { DeviceView } from "../devices.ts";
import type { Placed, ReplPolicy } from "./policy.ts";

export type Placements = Record<string, PlacementRecord>;

/** entries kept for copies no longer there (the newest ones) */
export const MAX_FORGOTTEN = 8;

export const placementKey = (devid: number) => `d${devid}`;
const devidOf = (key: string) => Number(key.slice(1));

const record = (op: PlacementRecord["op"], cause: PlacementCause, why: string, dev?: number): PlacementRecord =>
  ({ op, cause, why, at: Date.now(), ...(dev !== undefined ? { dev } : {}) });
export const added = (cause: PlacementCause, why: string, dev?: number) => record("add", cause, why, dev);
export const dropped = (cause: PlacementCause, why: string, dev?: number) => record("drop", cause, why, dev);

/** The `$set` fields recording decisions about devices, for the update that adds or forgets the copies. */
export function placementSet(entries: [devid: number, rec: PlacementRecord][]): Record<string, PlacementRecord> {
  return Object.fromEntries(entries.map(([devid, rec]) => [`placements.${placementKey(devid)}`, rec]));
}

/**
 * `$unset` fields for entries of forgotten copies beyond MAX_FORGOTTEN (the oldest go), never one
 * of `keep` (the devices the update itself records). Only safe in an update compared on the
 * document's revision, or on its whole `devids` (a copy re-added meanwhile makes it miss).
 */
export function pruneForgotten(placements: Placements | undefined, devids: readonly number[], keep: readonly number[]): Record<string, ""> {
  if (!placements) return {};
  const gone = Object.entries(placements)
    .filter(([k]) => !devids.includes(devidOf(k)) && !keep.includes(devidOf(k)))
    .sort((a, b) => b[1].at - a[1].at);
  return Object.fromEntries(gone.slice(Math.max(0, MAX_FORGOTTEN - keep.length)).map(([k]) => [`placements.${k}`, ""]));
}

/** Every entry with its device, oldest first. */
export function placementHistory(placements: Placements | undefined): (PlacementRecord & { devid: number })[] {
  return Object.entries(placements ?? {}).map(([k, r]) => ({ devid: devidOf(k), ...r })).sort((a, b) => a.at - b.at || a.devid - b.devid);
}

/** The decision that put the copy on `devid` there; null when none is recorded. */
export function placementOf(placements: Placements | undefined, devid: number): PlacementRecord | null {
  const r = placements?.[placementKey(devid)];
  return r && r.op === "add" ? r : null;
}

// ---- in words ----

/** `MultipleHosts(2)`: the policy with the copies it wants. */
export const policyText = (p: ReplPolicy, min: number) => `${p.name}(${min})`;

/** Zones the policy spreads over: those of devices that should hold files and of the copies. */
export const zonesOf = (on: Placed[], live: Placed[]) => new Set([...live, ...on].map((p) => p.zone ?? "")).size;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What a set of copies lacks for the policy ("copies on 1 of 2 hosts"); "" when it lacks nothing. */
export function lackOf(p: ReplPolicy, on: Placed[], min: number, zones: number): string {
  if (on.length === 0) return "no copy on a live device";
  const hosts = new Set(on.map((x) => x.hostid)).size;
  const devs = new Set(on.map((x) => x.devid)).size;
  if (p.name === "MultipleDevices") return devs < min ? `copies on ${devs} of ${plural(min, "device")} wanted` : "";
  if (p.name === "MultipleNetworks") {
    const want = Math.min(min, Math.max(1, zones));
    const have = new Set(on.map((x) => x.zone ?? "")).size;
    if (have < want) return `copies in ${have} of ${plural(want, "zone")} wanted`;
  }
  if (hosts < min) return `copies on ${hosts} of ${plural(min, "host")} wanted${on.length > hosts ? ` (${on.length} copies share hosts)` : ""}`;
  return "";
}

const size = (n: number) => {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
};

/**
 * create_open's weighted draw in words: each candidate's share (free space × weight), the chosen
 * device's first, then the biggest few. Short: it is stored with every file.
 */
export function drawText(view: DeviceView, candidates: readonly number[], chosen: number): string {
  const w = candidates.map((devid) => ({ devid, w: view.drawWeight(devid) }));
  const total = w.reduce((s, x) => s + x.w, 0) || 1;
  const describe = (devid: number, weight: number) => {
    const free = view.observed.get(devid)?.free;
    return `dev${devid} ${Math.round((100 * weight) / total)}% (free ${free === undefined ? "?" : size(free)}, weight ${view.devices.get(devid)?.weight ?? 100})`;
  };
  const mine = w.find((x) => x.devid === chosen);
  const others = w.filter((x) => x.devid !== chosen).sort((a, b) => b.w - a.w);
  const shown = others.slice(0, 3).map((x) => describe(x.devid, x.w));
  if (others.length > 3) shown.push(`${others.length - 3} more`);
  return `chosen at create_open by a draw weighted by free space × weight among ${plural(candidates.length, "writable device")}: ` +
    `${mine ? describe(chosen, mine.w) : `dev${chosen}`}${shown.length ? `; others ${shown.join(", ")}` : ""}`;
}

/** The record of a copy the replicator made, from its job's reason and what the policy lacked. */
export function replicatedRecord(o: { reason?: string; lost?: number; policy: string; lack: string; desperate: boolean }): PlacementRecord {
  const lack = o.lack ? `${o.policy} had ${o.lack}` : `${o.policy} wanted another copy`;
  const tail = o.desperate ? "; no device on a new host or zone could take it, so it went beside another copy" : "";
  switch (o.reason) {
    case "dead-device":
      return added("restore", `restored after ${o.lost ? `dev${o.lost}` : "a device"} was marked dead: ${lack}${tail}`, o.lost);
    case "lost-device":
      return added("restore", `restored while ${o.lost ? `dev${o.lost}` : "a device"} was unreachable for too long: ${lack}${tail}`, o.lost);
    case "new":
      return added("replicate", `made by the replicator after the upload: ${lack}${tail}`);
    case "updateclass":
      return added("replicate", `made by the replicator after the file changed class: ${lack}${tail}`);
    case "fsck":
      return added("replicate", `made by the replicator after fsck found the file below its policy: ${lack}${tail}`);
    default:
      return added("replicate", `made by the replicator${o.reason ? ` (${o.reason})` : ""}: ${lack}${tail}`);
  }
}
