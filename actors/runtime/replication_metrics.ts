// Replication metrics: the lag from create_close to a new file's class policy met (observed by the
// replicator when it completes a new file, or as 0 by the query actor when the upload's chain already
// met the policy at create_close), and the copies the replicator made.
import type { ReplicateJob } from "../../protocol/schemas.ts";
import { counter, histogram } from "./metrics.ts";

const lag = histogram({
  name: "mogile_replication_lag_seconds",
  help: "Time from create_close until a new file's class policy was met: 0 when the upload's chain met it (query actor), else when the replicator completed it",
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600],
});
const copies = counter({ name: "mogile_replication_copies_total", help: "Copies the replicator made and recorded" });
const copiedBytes = counter({ name: "mogile_replication_copied_bytes_total", help: "Bytes of the copies the replicator made and recorded" });

/** A job found its file meeting its policy: for a new file (create_close's job), how long it took. */
export function policyMet(job: ReplicateJob): void {
  // other reasons (dead device, updateclass, fsck) are repairs, not the write path's lag
  if (job.reason !== "new" || job.ts === undefined) return;
  lag.observe(Math.max(0, Date.now() - job.ts) / 1000);
}

/** create_close found the policy met by the upload's own copies: no lag. */
export function policyMetAtClose(): void {
  lag.observe(0);
}

export function copyMade(length: number): void {
  copies.inc();
  copiedBytes.inc(length);
}
