// The soak (`npm run soak`, not in CI): the history workload of test/history.test.ts (8 clients
// on 24 keys: put, overwrite, rename, delete, updateclass, get) for MOGILE_SOAK_SECONDS (600) on a
// private loopback cluster, while devices drain, rebalances run, a device dies, and replicators,
// query actors and storage hosts are killed (kill -9) and restarted. Then the history checker:
// every key holds its last acknowledged content, every copy is whole, every file reaches its class
// policy, and after fsck no unreferenced bytes remain. Exit 1 on any failure.
// MOGILE_SOAK_KEEP=1 keeps the data dir and logs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startCluster, type Cluster } from "../deploy/cluster.ts";
import { MogileClient } from "../protocol/client.ts";
import { openStore, type Store } from "../actors/runtime/mongo.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { runHistory, checkHistory, summarizeHistory, HISTORY_CLUSTER, HISTORY_ENV } from "../test/helpers/history.ts";

const SECONDS = Math.max(10, Number(process.env.MOGILE_SOAK_SECONDS ?? 600) || 600);
const DOMAIN = "soak";

const log = (msg: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} soak: ${msg}\n`);

const dataDir = mkdtempSync(path.join(tmpdir(), "mogile-soak-"));
let cluster: Cluster | undefined;
let client: MogileClient | undefined;
let store: Store | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () => (cleaning ??= (async () => {
  await store?.close().catch(() => {});
  await client?.nc.close().catch(() => {});
  await cluster?.stop().catch((err) => log(`stop failed: ${(err as Error).message}`));
  if (process.env.MOGILE_SOAK_KEEP) log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
})());
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => { log(`${sig}: cleaning up`); void cleanup().finally(() => process.exit(130)); });

async function main(): Promise<number> {
  log(`starting a cluster in ${dataDir} (3 hosts × 2 devices, query ×2, replicator ×2, deleter ×2, reaper ×2); ${SECONDS} s of history load with faults`);
  cluster = await startCluster({ dataDir, ...HISTORY_CLUSTER, counts: { ...HISTORY_CLUSTER.counts, deleter: 2, reaper: 2, gateway: 0, legacy: 0 }, env: HISTORY_ENV });
  client = await cluster.connectClient("operator", "soak");
  await cluster.ready(client, 60_000);
  store = await openStore(cluster.mongoUrl, cluster.db, createLogger({ role: "soak" }, "error"), { indexes: false });
  await client.createDomain(DOMAIN);
  const run = await runHistory({ cluster, client, domain: DOMAIN, seconds: SECONDS, storageKills: true, cycleMs: 90_000, log });
  log("load over; waiting for the cluster to settle and checking the history ...");
  const results = await checkHistory(run, cluster, client, store, DOMAIN, { policyTimeoutMs: 300_000, fsckTimeoutMs: 300_000, gcTimeoutMs: 180_000, log });
  process.stdout.write("\n" + summarizeHistory(run, results) + "\n\n");
  return results.every((r) => r.ok) && run.anomalies.length === 0 ? 0 : 1;
}

main()
  .then(async (rc) => { await cleanup(); process.exit(rc); })
  .catch(async (err) => { log(`failed: ${(err as Error).stack ?? err}`); await cleanup(); process.exit(1); });
