// Process sampling for the bench: peak RSS of given pids, and CPU time per cluster process (from /proc).
import { readFileSync, readdirSync } from "node:fs";

const TICKS_PER_S = 100; // Linux USER_HZ

function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples VmRSS of each pid every intervalMs; stop() returns the peak bytes per pid. */
export function rssSampler(pids: number[], intervalMs = 50) {
  const peak = new Map<number, number>(pids.map((p) => [p, rss(p)]));
  const sample = () => { for (const p of pids) peak.set(p, Math.max(peak.get(p) ?? 0, rss(p))); };
  const timer = setInterval(sample, intervalMs);
  return { stop(): Map<number, number> { clearInterval(timer); sample(); return peak; } };
}

interface Stat { pid: number; ppid: number; comm: string; ticks: number }

function readStats(): Stat[] {
  const out: Stat[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = s.lastIndexOf(")");
      const f = s.slice(close + 2).split(" "); // f[1] ppid, f[11] utime, f[12] stime
      out.push({ pid: Number(d), ppid: Number(f[1]), comm: s.slice(s.indexOf("(") + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch { /* exited meanwhile */ }
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
  for (const s of stats) {
    try { if (readFileSync(`/proc/${s.pid}/cmdline`, "utf8").includes(dataDir)) ours.add(s.pid); } catch { /* gone */ }
  }
  for (let grew = true, round = 0; grew && round < 20; round++) {
    grew = false;
    for (const s of stats) if (!ours.has(s.pid) && ours.has(s.ppid)) { ours.add(s.pid); grew = true; }
  }
  const by = new Map<string, number>();
  for (const s of stats) {
    if (!ours.has(s.pid)) continue;
    const label = s.pid === process.pid ? "bench client" : labels.get(s.pid) ?? s.comm;
    by.set(label, (by.get(label) ?? 0) + s.ticks);
  }
  return by;
}

/** "query-1 95%, postgres 60%, ..." — the busiest processes between two snapshots, % of one core. */
export function cpuReport(before: Map<string, number>, after: Map<string, number>, seconds: number, top = 7): string {
  const rows = [...after].map(([l, t]) => [l, (t - (before.get(l) ?? 0)) / TICKS_PER_S / seconds * 100] as const);
  const total = rows.reduce((a, [, p]) => a + p, 0);
  const busiest = rows.filter(([, p]) => p >= 1).sort((a, b) => b[1] - a[1]).slice(0, top);
  return `total ${total.toFixed(0)}%: ` + busiest.map(([l, p]) => `${l} ${p.toFixed(0)}%`).join(", ");
}
