// Replication policies (MogileFS §6) as pure functions over device placement:
// MultipleHosts (default), MultipleDevices, and zone-aware MultipleNetworks (alias HostsPerNetwork).
// The replicator acts on the answers and fsck checks files with them: one policy for both.
import { REPL_POLICY_PATTERN, DEFAULT_REPL_POLICY } from "../../../protocol/schemas.ts";
import type { DeviceView } from "../devices.ts";

export { DEFAULT_REPL_POLICY };

export type PolicyName = "MultipleHosts" | "MultipleDevices" | "MultipleNetworks";
export interface ReplPolicy { name: PolicyName; /** explicit N; null = the class mindevcount */ n: number | null }

/** A copy (or a candidate device) with where it sits. `zone` "" = hosts without a zone (one zone). */
export interface Placed {
  devid: number; hostid: number; zone?: string;
  /** copies only: a reader can get it now */
  readable?: boolean;
  /** copies only: on a device being drained (it leaves first when a copy is surplus) */
  leaving?: boolean;
}

export type PolicyAnswer =
  | { kind: "satisfied" }
  | { kind: "no_source" }
  /** copy to one of `devids` (best first tier that had any); desperate = not the policy's preference */
  | { kind: "copy"; devids: number[]; desperate: boolean }
  /** one copy more than the policy needs: `devid` can go and the readable rest still satisfies it */
  | { kind: "too_many"; devid: number }
  | { kind: "wait"; reason: string };

const ALIASES: Record<string, PolicyName> = {
  MultipleHosts: "MultipleHosts",
  MultipleDevices: "MultipleDevices",
  MultipleNetworks: "MultipleNetworks",
  HostsPerNetwork: "MultipleNetworks",
};
/** Parse a class's replpolicy; anything unparsable is the default MultipleHosts(). */
export function parsePolicy(s: string | undefined | null): ReplPolicy {
  const m = REPL_POLICY_PATTERN.exec((s ?? "").trim());
  if (!m) return { name: "MultipleHosts", n: null };
  const n = m[2] === "" ? 0 : Number(m[2]);
  return { name: ALIASES[m[1]], n: n > 0 ? n : null }; // empty or zero N means "use mindevcount"
}

/** The number of copies the policy wants: an explicit N overrides the class mindevcount. */
export function policyMin(p: ReplPolicy, mindevcount: number): number {
  return Math.max(1, p.n ?? mindevcount);
}

const zoneOf = (p: Placed) => p.zone ?? "";
const count = (xs: Placed[], key: (p: Placed) => string | number) => new Set(xs.map(key)).size;

/**
 * How many copies count toward durability: copies on distinct hosts (distinct devices for
 * MultipleDevices). Two copies on one host do not survive that host.
 */
export function spreadCount(p: ReplPolicy, on: Placed[]): number {
  return p.name === "MultipleDevices" ? count(on, (x) => x.devid) : count(on, (x) => x.hostid);
}

/**
 * Does this set of copies meet the policy on its own? `zones` is how many zones the cluster has
 * (MultipleNetworks spans min(N, zones) of them before it counts hosts).
 */
export function meets(p: ReplPolicy, on: Placed[], min: number, zones: number): boolean {
  if (on.length === 0) return false;
  switch (p.name) {
    case "MultipleDevices": return count(on, (x) => x.devid) >= min;
    case "MultipleHosts": return count(on, (x) => x.hostid) >= min;
    case "MultipleNetworks": return count(on, zoneOf) >= Math.min(min, Math.max(1, zones)) && count(on, (x) => x.hostid) >= min;
  }
}

/** Candidate devices in preference tiers: [ideal, less desperate, most desperate]. */
export function rank(p: ReplPolicy, on: Placed[], candidates: Placed[], min: number, zones: number): number[][] {
  const held = new Set(on.map((x) => x.devid));
  const cands = candidates.filter((c) => !held.has(c.devid));
  if (p.name === "MultipleDevices") return [cands.map((c) => c.devid)];
  const hosts = new Set(on.map((x) => x.hostid));
  const newHost = cands.filter((c) => !hosts.has(c.hostid));
  const oldHost = cands.filter((c) => hosts.has(c.hostid)).map((c) => c.devid);
  const used = new Set(on.map(zoneOf));
  if (p.name === "MultipleHosts") {
    // hosts in a zone (rack) with no copy yet first, when there are any: a rack lost keeps a copy
    const fresh = newHost.filter((c) => !used.has(zoneOf(c)));
    return [(fresh.length ? fresh : newHost).map((c) => c.devid), oldHost];
  }
  if (used.size >= Math.min(min, Math.max(1, zones))) return [newHost.map((c) => c.devid), oldHost];
  // zones first: a device in a zone already used ranks above one on a host already used (MogileFS::Network)
  return [newHost.filter((c) => !used.has(zoneOf(c))).map((c) => c.devid), newHost.filter((c) => used.has(zoneOf(c))).map((c) => c.devid), oldHost];
}

export interface PolicyInput {
  policy: ReplPolicy;
  /** the file's copies on non-dead devices */
  on: Placed[];
  /** copies wanted (policyMin) */
  min: number;
  /** devices that can take a copy right now (writable, not failed this run) */
  writable: Placed[];
  /** devices that should hold files (admin alive on an alive host), reachable or not */
  live: Placed[];
}

/**
 * The policy's answer for one file. Order matters: no copies → no source; one copy too many
 * (and the readable rest still meets the policy) → too_many; met → satisfied; else the best
 * tier of writable candidates, or wait while a better device is only unreachable for now.
 */
export function decide(i: PolicyInput): PolicyAnswer {
  const { policy: p, on, min, writable, live } = i;
  if (on.length === 0) return { kind: "no_source" };
  const zones = count([...live, ...on], zoneOf);
  if (on.length > min) {
    const surplus = pickSurplus(p, on, min, zones);
    if (surplus !== null) return { kind: "too_many", devid: surplus };
  }
  if (meets(p, on, min, zones)) return { kind: "satisfied" };
  const now = rank(p, on, writable, min, zones);
  if (now[0].length) return { kind: "copy", devids: now[0], desperate: false };
  const later = rank(p, on, live, min, zones);
  // enough copies, only not spread as well as the policy likes: wait if a better device is down for now
  if (on.length >= min) return later[0].length ? { kind: "wait", reason: `copies of the file are not spread yet; waiting for a device to come back` } : { kind: "satisfied" };
  const desperate = now.slice(1).find((t) => t.length);
  if (desperate) return { kind: "copy", devids: desperate, desperate: true };
  if (later.some((t) => t.length)) return { kind: "wait", reason: `no device can take a copy now` };
  // every device that could hold one already does (MogileFS: |on| ≥ 2 and |on| = TD)
  if (on.length >= 2) return { kind: "satisfied" };
  return { kind: "wait", reason: `only one device can hold the file` };
}

/**
 * A copy that can go while the other *readable* copies still meet the policy: on the host (then
 * zone) holding the most copies. Never one whose removal would leave only unreadable copies.
 */
export function pickSurplus(p: ReplPolicy, on: Placed[], min: number, zones: number): number | null {
  const perHost = new Map<number, number>();
  const perZone = new Map<string, number>();
  for (const x of on) {
    perHost.set(x.hostid, (perHost.get(x.hostid) ?? 0) + 1);
    perZone.set(zoneOf(x), (perZone.get(zoneOf(x)) ?? 0) + 1);
  }
  // a copy on a draining device goes first: a drain's move may be about to forget it, and
  // dropping another copy as well would take the file below its policy
  const order = [...on].sort((a, b) => Number(!!b.leaving) - Number(!!a.leaving) ||
    perHost.get(b.hostid)! - perHost.get(a.hostid)! || perZone.get(zoneOf(b))! - perZone.get(zoneOf(a))! || b.devid - a.devid);
  for (const c of order) {
    const rest = on.filter((x) => x.devid !== c.devid && x.readable !== false);
    if (meets(p, rest, min, zones)) return c.devid;
  }
  return null;
}

/** A device with its host and zone, as the policies see it; null for a device the view does not know. */
export function placed(view: DeviceView, devid: number): Placed | null {
  const r = view.row(devid);
  if (!r) return null;
  return { devid, hostid: r.dev.hostid, zone: r.host.zone ?? "", readable: view.readable(devid), leaving: r.dev.status === "drain" };
}

/**
 * The device side of a PolicyInput, from the device view: `on` the file's copies on devices not
 * dead; `writable` devices that can take `size` bytes now (but `skip`); `live` devices an alive
 * (or down, so expected back) host has marked alive — MogileFS counts those hosts (TH).
 */
export function placement(view: DeviceView, devids: number[], size: number, skip?: ReadonlySet<number>): Pick<PolicyInput, "on" | "writable" | "live"> {
  const notDead = devids.map((devid) => placed(view, devid)).filter((p): p is Placed => p !== null && view.row(p.devid)!.dev.status !== "dead");
  // copies on a lost device (unreachable for long) do not count while another copy remains: the
  // file is brought back to its policy without them (if every copy is there, it waits for it)
  const now = Date.now();
  const kept = notDead.filter((p) => !view.lost(p.devid, now));
  const on = kept.length ? kept : notDead;
  const writable: Placed[] = [];
  const live: Placed[] = [];
  for (const [devid, dev] of view.devices) {
    const p = placed(view, devid);
    if (!p) continue;
    if (!skip?.has(devid) && view.writable(devid, size)) writable.push(p);
    const hostStatus = view.hosts.get(dev.hostid)?.status;
    if (dev.status === "alive" && hostStatus !== undefined && hostStatus !== "dead") live.push(p);
  }
  return { on, writable, live };
}
