// Dead-device recovery progress as metrics, from the recovery bucket (one entry per dead device),
// read at scrape time by the reaper that holds the lease (the others report none), at most every
// few seconds.
import type { RecoveryStatus } from "../../protocol/schemas.ts";
import { gauge } from "../runtime/metrics.ts";
import type { Recovery } from "./recovery.ts";

const CACHE_MS = 5_000;
const PHASES = ["waiting", "requeueing", "done"] as const;

/** the recovery entries as the lease holder reads them (null: not leading, or not started) */
let reader: (() => Promise<RecoveryStatus[] | null>) | null = null;

gauge({
  name: "mogile_recovery_files",
  help: "Dead-device recovery by device: total = files that had a copy there, remaining = files still naming it, requeued = replicate jobs queued, no_other_copy = files with no copy left elsewhere",
  labelNames: ["devid", "state"] as const,
  async collect() {
    this.reset();
    for (const st of (await reader?.()) ?? []) {
      const devid = String(st.devid);
      this.set({ devid, state: "total" }, st.total);
      this.set({ devid, state: "remaining" }, st.remaining);
      this.set({ devid, state: "requeued" }, st.requeued);
      this.set({ devid, state: "no_other_copy" }, st.noOtherCopy);
    }
  },
});
gauge({
  name: "mogile_recovery_phase",
  help: "1 for the phase a dead device's recovery is in (waiting out the grace period, requeueing, done), 0 for the others",
  labelNames: ["devid", "phase"] as const,
  async collect() {
    this.reset();
    for (const st of (await reader?.()) ?? []) {
      for (const phase of PHASES) this.set({ devid: String(st.devid), phase }, st.phase === phase ? 1 : 0);
    }
  },
});

export function recoveryMetrics(recovery: Recovery, leading: () => boolean): void {
  let cached: RecoveryStatus[] = [];
  let at = 0;
  let pending: Promise<RecoveryStatus[]> | null = null;
  const read = async (): Promise<RecoveryStatus[]> => {
    const all: RecoveryStatus[] = [];
    for await (const k of await recovery.kv.keys("dev.>")) {
      const st = await recovery.status(Number(k.slice("dev.".length)));
      if (st) all.push(st);
    }
    at = Date.now();
    return (cached = all);
  };
  // both gauges ask at each scrape: one read serves them
  reader = async () => {
    if (!leading()) return null;
    if (Date.now() - at < CACHE_MS) return cached;
    return (pending ??= read().catch(() => cached).finally(() => { pending = null; }));
  };
}
