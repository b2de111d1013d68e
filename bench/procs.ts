// Process sampling for the bench: peak RSS of given pids, and CPU time per cluster process (from /proc).
import { readFileSync, readdirSync } from "node:fs";

const TICKS_PER_S = 100; // Linux USER_HZ

const read = (file: string) => { try { return readFileSync(file, "utf8"); } catch { return ""; } };
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`))?.[1] ?? 0) * 1024;

/** Samples VmRSS of each pid every intervalMs; stop() returns the first and the peak bytes per pid. */
export function rssSampler(pids: number[], intervalMs = 50) {
  const start = new Map<number, number>(pids.map((p) => [p, rss(p)]));
  const peak = new Map(start);
  const sample = () => { for (const p of pids) peak.set(p, Math.max(peak.get(p) ?? 0, rss(p))); };
  const timer = setInterval(sample, intervalMs);
  return { stop() { clearInterval(timer); sample(); return { start, peak }; } };
}

const MACHINE = "\0machine";
/** busy ticks of all CPUs together, from the first line of /proc/stat */
function machineBusyTicks(): number {
  const f = read("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0); // minus idle and iowait
}

interface Stat { pid: number; ppid: number; comm: string; ticks: number }

function readStats(): Stat[] {
  const out: Stat[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = read(`/proc/${d}/stat`); // empty when it exited meanwhile
    const close = s.lastIndexOf(")");
    const f = s.slice(close + 2).split(" "); // f[1] ppid, f[11] utime, f[12] stime
    if (s) out.push({ pid: Number(d), ppid: Number(f[1]), comm: s.slice(s.indexOf("(") + 1, close), ticks: Number(f[11]) + Number(f[12]) });
  }
  return out;
}

/**
 * CPU ticks per label for our process tree plus anything whose command line names dataDir
 * (PostgreSQL daemonizes away from our tree). `labels` names known pids; others go by comm.
 */
export function cpuSnapshot(dataDir: string, labels: Map<number, string>): Map<string, number> {
  const stats = readStats();
  const ours = new Set<number>([process.pid]);
  for (const s of stats) if (read(`/proc/${s.pid}/cmdline`).includes(dataDir)) ours.add(s.pid);
  for (let grew = true, round = 0; grew && round < 20; round++) {
    grew = false;
    for (const s of stats) if (!ours.has(s.pid) && ours.has(s.ppid)) { ours.add(s.pid); grew = true; }
  }
  const by = new Map<string, number>([[MACHINE, machineBusyTicks()]]);
  for (const s of stats) {
    if (!ours.has(s.pid)) continue;
    const label = s.pid === process.pid ? "bench client" : labels.get(s.pid) ?? s.comm;
    by.set(label, (by.get(label) ?? 0) + s.ticks);
  }
  return by;
}

/** "query-1 95%, postgres 60%, ..." — the busiest processes between two snapshots, % of one core. */
export function cpuReport(before: Map<string, number>, after: Map<string, number>, seconds: number, top = 7): string {
  const pct = (l: string, t: number) => ((t - (before.get(l) ?? 0)) / TICKS_PER_S / seconds) * 100;
  const rows = [...after].filter(([l]) => l !== MACHINE).map(([l, t]) => [l, pct(l, t)] as const);
  const total = rows.reduce((a, [, p]) => a + p, 0);
  const others = pct(MACHINE, after.get(MACHINE) ?? 0) - total;
  const busiest = rows.filter(([, p]) => p >= 1).sort((a, b) => b[1] - a[1]).slice(0, top);
  return `ours ${total.toFixed(0)}%, other processes ${Math.max(0, others).toFixed(0)}%: ` + busiest.map(([l, p]) => `${l} ${p.toFixed(0)}%`).join(", ");
}

/**
 * CPU milliseconds per operation between two snapshots, by role (instances and storage hosts
 * summed): "4.1 ms/op: query 1.2, storage 1.0, …".
 */
export function cpuPerOp(before: Map<string, number>, after: Map<string, number>, ops: number, unit = "file"): string {
  if (ops <= 0) return "";
  const role = (l: string) => (l.startsWith("storage-") ? "storage" : l.replace(/-\d+$/, ""));
  const by = new Map<string, number>();
  for (const [l, t] of after) {
    if (l === MACHINE) continue;
    const ms = ((t - (before.get(l) ?? 0)) / TICKS_PER_S) * 1000;
    by.set(role(l), (by.get(role(l)) ?? 0) + ms);
  }
  const total = [...by.values()].reduce((a, b) => a + b, 0);
  const parts = [...by].filter(([, ms]) => ms / ops >= 0.05).sort((a, b) => b[1] - a[1]).map(([r, ms]) => `${r} ${(ms / ops).toFixed(1)}`);
  return `${(total / ops).toFixed(1)} ms CPU/${unit}: ${parts.join(", ")}`;
}
