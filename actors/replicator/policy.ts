// Replication policy MultipleHosts (MogileFS default), as a pure function over device placement.

export interface Placed { devid: number; hostid: number }

export type PolicyAnswer =
  | { kind: "satisfied" }
  | { kind: "no_source" }
  | { kind: "copy"; avoidHosts: Set<number>; desperate: boolean }
  | { kind: "wait"; reason: string };

/**
 * @param on            the file's current copies on non-dead devices
 * @param min           the class mindevcount
 * @param writableHosts hosts with a device able to take a copy right now
 * @param liveHosts     hosts with at least one device in admin state alive (reachable or not)
 */
export function multipleHosts(on: Placed[], min: number, writableHosts: Set<number>, liveHosts: Set<number> = writableHosts): PolicyAnswer {
  if (on.length === 0) return { kind: "no_source" };
  const hosts = new Set(on.map((p) => p.hostid));
  if (min <= 1) return { kind: "satisfied" };
  if (hosts.size >= min) return { kind: "satisfied" };
  if ([...writableHosts].some((h) => !hosts.has(h))) return { kind: "copy", avoidHosts: hosts, desperate: false };
  // no other host can take a copy now: keep enough copies on the hosts we have …
  if (on.length < min) return { kind: "copy", avoidHosts: new Set(), desperate: true };
  // … and come back later if a host that could hold one is only down for the moment
  if ([...liveHosts].some((h) => !hosts.has(h))) return { kind: "wait", reason: `copies share ${hosts.size} host(s); waiting for another host` };
  return { kind: "satisfied" }; // every host there is has a copy
}
