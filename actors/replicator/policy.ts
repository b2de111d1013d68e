// Replication policy MultipleHosts (MogileFS default), as a pure function over device placement.

export interface Placed { devid: number; hostid: number }

export type PolicyAnswer =
  | { kind: "satisfied" }
  | { kind: "no_source" }
  | { kind: "copy"; avoidHosts: Set<number>; desperate: boolean }
  | { kind: "wait"; reason: string };

/**
 * @param on          the file's current copies on non-dead devices
 * @param min         the class mindevcount
 * @param aliveHosts  hosts that have at least one device able to take new files
 */
export function multipleHosts(on: Placed[], min: number, aliveHosts: Set<number>): PolicyAnswer {
  if (on.length === 0) return { kind: "no_source" };
  const hosts = new Set(on.map((p) => p.hostid));
  if (min <= 1 && on.length >= 1) return { kind: "satisfied" };
  if (hosts.size >= min) return { kind: "satisfied" };
  const freshHosts = [...aliveHosts].filter((h) => !hosts.has(h));
  if (freshHosts.length > 0) return { kind: "copy", avoidHosts: hosts, desperate: false };
  // every live host already has a copy: settle for another device on a used host
  if (on.length < min) return { kind: "copy", avoidHosts: new Set(), desperate: true };
  return { kind: "satisfied" };
}
