// Rebalance policy: the MogileFS grammar (whitespace-separated key=value, commas make lists), parsed
// into filters and limits. Pure: unit-testable without servers.
import { MogileError } from "../../../protocol/errors.ts";

export interface RebalancePolicy {
  fromHosts?: number[]; fromDevices?: number[];
  toHosts?: number[]; toDevices?: number[]; notToHosts?: number[]; notToDevices?: number[];
  /** thresholds on observed disk usage: percent (0–100) or MB */
  fromPercentUsed?: number; fromPercentFree?: number; fromSpaceUsed?: number; fromSpaceFree?: number;
  toPercentUsed?: number; toPercentFree?: number; toSpaceUsed?: number; toSpaceFree?: number;
  limitBy: "none" | "count" | "size";
  /** files (count) or bytes (size) moved in a whole run */
  limit: number;
  leaveInDrainMode: boolean;
  fidAge: "old" | "new";
}

const LISTS = { from_hosts: "fromHosts", from_devices: "fromDevices", to_hosts: "toHosts", to_devices: "toDevices", not_to_hosts: "notToHosts", not_to_devices: "notToDevices" } as const;
const PERCENTS = { from_percent_used: "fromPercentUsed", from_percent_free: "fromPercentFree", to_percent_used: "toPercentUsed", to_percent_free: "toPercentFree" } as const;
const SPACES = { from_space_used: "fromSpaceUsed", from_space_free: "fromSpaceFree", to_space_used: "toSpaceUsed", to_space_free: "toSpaceFree" } as const;
/** keys MogileFS accepts that change nothing here (limits are always per run; every destination is offered) */
const IGNORED = new Set(["limit_type", "use_dest_devs", "from_all_devs", "to_all_devs"]);

const bad = (msg: string) => new MogileError("bad_rebal_pol", msg);

/** `5000`, `100g`: suffixes b/k/m/g/t/p are powers of 1024 */
export function parseSize(v: string): number {
  const m = /^(\d+)\s*([bkmgtp]?)b?$/i.exec(v.trim());
  if (!m) throw bad(`bad size ${v}`);
  const pow = "bkmgtp".indexOf((m[2] || "b").toLowerCase());
  return Number(m[1]) * 1024 ** pow;
}

export function parsePolicy(text: string): RebalancePolicy {
  const p: RebalancePolicy = { limitBy: "none", limit: 0, leaveInDrainMode: false, fidAge: "old" };
  let limitText: string | null = null;
  for (const pair of text.trim().split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw bad(`expected key=value, got ${pair}`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key in LISTS) {
      const ids = value.split(",").filter(Boolean).map(Number);
      if (!ids.length || ids.some((n) => !Number.isInteger(n) || n < 1)) throw bad(`${key} must list ids, got ${value}`);
      p[LISTS[key as keyof typeof LISTS]] = ids;
    } else if (key in PERCENTS) {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n) || n < 0 || n > 100) throw bad(`${key} must be 0-100, got ${value}`);
      p[PERCENTS[key as keyof typeof PERCENTS]] = n;
    } else if (key in SPACES) {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n) || n < 0) throw bad(`${key} must be MB, got ${value}`);
      p[SPACES[key as keyof typeof SPACES]] = n;
    } else if (key === "limit_by") {
      if (value === "percent") throw bad("limit_by=percent is not implemented");
      if (value !== "none" && value !== "count" && value !== "size") throw bad(`limit_by must be none, count or size, got ${value}`);
      p.limitBy = value;
    } else if (key === "limit") {
      limitText = value;
    } else if (key === "leave_in_drain_mode") {
      if (value !== "0" && value !== "1") throw bad("leave_in_drain_mode must be 0 or 1");
      p.leaveInDrainMode = value === "1";
    } else if (key === "fid_age") {
      if (value !== "old" && value !== "new") throw bad("fid_age must be old or new");
      p.fidAge = value;
    } else if (!IGNORED.has(key)) {
      throw bad(`unknown policy key ${key}`);
    }
  }
  if (limitText !== null) p.limit = p.limitBy === "size" ? parseSize(limitText) : Number(limitText);
  if (!Number.isInteger(p.limit) || p.limit < 0) throw bad(`bad limit ${limitText}`);
  if (p.limitBy !== "none" && p.limit === 0) throw bad(`limit_by=${p.limitBy} needs a limit`);
  return p;
}
