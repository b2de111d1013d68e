// fsck, drain and rebalance metrics: run progress from the task documents (read at scrape time by
// the fsck actor holding the lease, at most every few seconds; the others report 0), and what
// this actor did (files checked, copies moved).
import { FSCK_EVCODES } from "../../protocol/schemas.ts";
import { counter, gauge } from "../runtime/metrics.ts";
import { fsckState, rebalanceState, type FsckState, type RebalanceState, type Tasks } from "../runtime/domain/tasks.ts";

const CACHE_MS = 2_000;

const checks = counter({ name: "mogile_fsck_checks_total", help: "Files this fsck actor checked" });
const moves = counter({ name: "mogile_moves_total", help: "Copies moved by drain or rebalance, by result (ok, failed)", labelNames: ["reason", "result"] as const });

export const fsckChecked = (n: number): void => { if (n) checks.inc(n); };
export const movedCopy = (reason: "drain" | "rebalance", ok: boolean): void => { moves.inc({ reason, result: ok ? "ok" : "failed" }); };

type Snapshot = { fsck: FsckState; rebalance: RebalanceState | null };

/** the task documents as the lease holder reads them (null: not leading, or not started) */
let reader: (() => Promise<Snapshot | null>) | null = null;

const one = (name: string, help: string, value: (s: Snapshot) => number | null) => gauge({
  name, help,
  async collect() {
    this.reset();
    const s = await reader?.();
    const v = s ? value(s) : null;
    if (v !== null && v !== undefined) this.set(v);
  },
});
one("mogile_fsck_running", "1 while an fsck run is under way", (s) => (s.fsck.running ? 1 : 0));
one("mogile_fsck_checked_files", "Files checked in the current (or last) fsck run", (s) => s.fsck.checked);
one("mogile_fsck_total_files", "Files the current (or last) fsck run has to check (0 until counted)", (s) => s.fsck.total);
one("mogile_fsck_max_fid_checked", "fsck checkpoint: every fid up to this one was checked", (s) => s.fsck.max_fid_checked);
one("mogile_fsck_end_fid", "The last fid of the current (or last) fsck run", (s) => s.fsck.end_fid);
one("mogile_fsck_rate_files_per_second", "Recent fsck rate", (s) => s.fsck.rate);
gauge({
  name: "mogile_fsck_problems",
  help: "Problems the current (or last) fsck run found, by MogileFS fsck event code",
  labelNames: ["evcode"] as const,
  async collect() {
    this.reset();
    const s = await reader?.();
    if (s) for (const evcode of FSCK_EVCODES) this.set({ evcode }, s.fsck.counts[evcode] ?? 0);
  },
});
one("mogile_rebalance_running", "1 while a rebalance is under way", (s) => (s.rebalance?.running ? 1 : 0));
one("mogile_rebalance_moved_files", "Files the current (or last) rebalance moved", (s) => s.rebalance?.files_moved ?? 0);
one("mogile_rebalance_moved_bytes", "Bytes the current (or last) rebalance moved", (s) => s.rebalance?.bytes_moved ?? 0);
one("mogile_rebalance_failed_moves", "Moves of the current (or last) rebalance that failed", (s) => s.rebalance?.failed ?? 0);

export function taskMetrics(t: Tasks, leading: () => boolean): void {
  let cached: Snapshot | null = null;
  let at = 0;
  let pending: Promise<Snapshot | null> | null = null;
  // every gauge asks at each scrape: one read of both documents serves them all
  reader = () => {
    if (!leading()) return Promise.resolve(null);
    if (Date.now() - at < CACHE_MS) return Promise.resolve(cached);
    return (pending ??= Promise.all([fsckState(t), rebalanceState(t)])
      .then(([fsck, rebalance]): Snapshot | null => { at = Date.now(); return (cached = { fsck, rebalance }); }, () => cached)
      .finally(() => { pending = null; }));
  };
}
