// What the dashboard (GET /ui) shows, gathered in one pass: hosts and devices (admin and observed
// state, usage from heartbeats), cluster counts, fsck and rebalance progress, and a summary of the
// cluster's metrics (queue depths, replication lag, dead-device recovery, which processes answer).
import type { MogileClient } from "../../protocol/client.ts";
import { MogileError } from "../../protocol/errors.ts";
import type { Reply } from "../../protocol/schemas.ts";
import type { MetricsSource } from "./metrics.ts";
import type { Scrape } from "./scrape.ts";

export interface MetricsSummary {
  /** every process that answered the scrape (up) or answered an earlier one and not this one */
  processes: { role: string; instance: string; up: boolean }[];
  /** jobs per work queue: pending (not delivered yet), ack_pending (running or backing off), redelivered */
  queues: Record<string, Record<string, number>>;
  /** create_close until the class policy was met, over every file since the processes started */
  replication_lag: { count: number; mean_s: number | null; p50_s: number | null; p95_s: number | null };
  /** dead-device recovery per device: files total, remaining, requeued, no_other_copy; and its phase */
  recovery: { devid: number; phase: string | null; files: Record<string, number> }[];
  /** fsck problems of the current (or last) run, by event code */
  fsck_problems: Record<string, number>;
  scrape_seconds: number;
}

export interface DashboardState {
  at: number;
  hosts: Reply<"get_hosts">["hosts"];
  devices: Reply<"get_devices">["devices"];
  stats: Reply<"stats"> | null;
  fsck: Reply<"fsck_status"> | null;
  rebalance: Reply<"rebalance_status"> | null;
  metrics: MetricsSummary | null;
  /** parts that could not be read this time (the rest is still shown) */
  errors: string[];
}

interface Sample { name: string; labels: Record<string, string>; value: number }

/** The samples of a text exposition (enough of the format for what mogile writes). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The q-quantile of a cumulative histogram (Prometheus' histogram_quantile: linear within a bucket). */
function quantile(q: number, buckets: [number, number][]): number | null {
  const sorted = buckets.sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * ((rank - prevCount) / Math.max(count - prevCount, 1e-9));
    }
    prevLe = le; prevCount = count;
  }
  return prevLe;
}

export function summarize(s: Scrape): MetricsSummary {
  const samples: Sample[] = [];
  for (const r of s.replies) if (r.text) samples.push(...parseExposition(r.text));
  const queues: MetricsSummary["queues"] = {};
  const lagBuckets = new Map<number, number>();
  let lagSum = 0, lagCount = 0;
  const recovery = new Map<number, MetricsSummary["recovery"][number]>();
  const rec = (devid: number) => {
    let r = recovery.get(devid);
    if (!r) recovery.set(devid, (r = { devid, phase: null, files: {} }));
    return r;
  };
  const fsck: Record<string, number> = {};
  for (const x of samples) {
    switch (x.name) {
      // every actor of a kind reports the same queue: the largest report is the freshest enough
      case "mogile_job_queue_messages": {
        const q = (queues[x.labels.kind] ??= {});
        q[x.labels.state] = Math.max(q[x.labels.state] ?? 0, x.value);
        break;
      }
      case "mogile_replication_lag_seconds_bucket": {
        const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
        lagBuckets.set(le, (lagBuckets.get(le) ?? 0) + x.value);
        break;
      }
      case "mogile_replication_lag_seconds_sum": lagSum += x.value; break;
      case "mogile_replication_lag_seconds_count": lagCount += x.value; break;
      case "mogile_recovery_files": rec(Number(x.labels.devid)).files[x.labels.state] = x.value; break;
      case "mogile_recovery_phase": if (x.value === 1) rec(Number(x.labels.devid)).phase = x.labels.phase; break;
      case "mogile_fsck_problems": if (x.value > 0) fsck[x.labels.evcode] = Math.max(fsck[x.labels.evcode] ?? 0, x.value); break;
    }
  }
  const buckets = [...lagBuckets.entries()];
  return {
    processes: [
      ...s.replies.map((r) => ({ role: r.role, instance: r.instance, up: r.text !== undefined })),
      ...s.missing.map((m) => ({ role: m.role, instance: m.instance, up: false })),
    ],
    queues,
    replication_lag: {
      count: lagCount,
      mean_s: lagCount > 0 ? lagSum / lagCount : null,
      p50_s: quantile(0.5, buckets.map(([le, n]) => [le, n])),
      p95_s: quantile(0.95, buckets.map(([le, n]) => [le, n])),
    },
    recovery: [...recovery.values()].sort((a, b) => a.devid - b.devid),
    fsck_problems: fsck,
    scrape_seconds: s.seconds,
  };
}

/**
 * `stats` counts every file (a full scan on FerretDB): asked at most every 30 s per gateway, however
 * many dashboards are open and however often devices change.
 */
export const STATS_EVERY_MS = 30_000;
const statsMemo = new WeakMap<object, { at: number; value: Promise<Reply<"stats">> }>();
function cachedStats(client: Pick<MogileClient, "rpc">): Promise<Reply<"stats">> {
  const m = statsMemo.get(client);
  if (m && Date.now() - m.at < STATS_EVERY_MS) return m.value;
  const value = client.rpc("stats", {}, 5_000);
  statsMemo.set(client, { at: Date.now(), value });
  // a failed count is asked again next time, not remembered for 30 s
  value.catch(() => { if (statsMemo.get(client)?.value === value) statsMemo.delete(client); });
  return value;
}

/** One snapshot; a part that fails (a tracker command, the scrape) is left empty and named in `errors`. */
export async function gatherState(client: Pick<MogileClient, "rpc">, metrics: MetricsSource | undefined): Promise<DashboardState> {
  const errors: string[] = [];
  const part = <T>(name: string, p: Promise<T>): Promise<T | null> => p.catch((err: Error) => { errors.push(`${name}: ${err.message}`); return null; });
  const [hosts, devices, stats, fsck, rebalance, scrape] = await Promise.all([
    part("get_hosts", client.rpc("get_hosts", {}, 5_000)),
    part("get_devices", client.rpc("get_devices", {}, 5_000)),
    part("stats", cachedStats(client)),
    part("fsck_status", client.rpc("fsck_status", {}, 5_000)),
    // a cluster that never rebalanced has no status: nothing to show, not a failure
    part("rebalance_status", client.rpc("rebalance_status", {}, 5_000).catch((err: unknown) => {
      if (err instanceof MogileError && err.code === "no_rebal_state") return null;
      throw err;
    })),
    metrics ? part("metrics", metrics.scrape(true)) : Promise.resolve(null),
  ]);
  return {
    at: Date.now(),
    hosts: hosts?.hosts ?? [],
    devices: devices?.devices ?? [],
    stats, fsck, rebalance,
    metrics: scrape ? summarize(scrape) : null,
    errors,
  };
}
