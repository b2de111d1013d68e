// Integration (issue 7): a history test. 8 clients put, overwrite, rename, delete, updateclass and
// read 24 shared keys for MOGILE_HISTORY_SECONDS (60) while a device drains, a rebalance runs, a
// device dies and replicators and query actors are killed; then every acknowledged op must be
// honoured: each key holds its last acknowledged content, every copy it names is whole, every file
// reaches its class policy, and after fsck no unreferenced bytes are left on disk.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { metadata, log } from "./helpers/faults.ts";
import { runHistory, checkHistory, summarizeHistory, HISTORY_CLUSTER, HISTORY_ENV } from "./helpers/history.ts";
import type { Store } from "../actors/runtime/mongo.ts";

const SECONDS = Math.max(10, Number(process.env.MOGILE_HISTORY_SECONDS ?? 60) || 60);
const DOMAIN = "hist";

test("history - every acknowledged op survives drains, a rebalance, a dead device and kill -9 of replicators and query actors", async () => {
  let tc: TestCluster | undefined;
  let store: Store | undefined;
  try {
    tc = await startTestCluster("history", { ...HISTORY_CLUSTER, counts: { ...HISTORY_CLUSTER.counts }, env: HISTORY_ENV });
    store = await metadata(tc.cluster);
    await tc.client.createDomain(DOMAIN);
    log(`${SECONDS} s of load: 8 clients, 24 keys, faults on ${tc.dataDir}`);
    const run = await runHistory({ cluster: tc.cluster, client: tc.client, domain: DOMAIN, seconds: SECONDS, log });
    log("load over; checking");
    const results = await checkHistory(run, tc.cluster, tc.client, store, DOMAIN, { log });
    process.stdout.write(summarizeHistory(run, results).replace(/^/gm, "  | ") + "\n");
    const failed = results.filter((r) => !r.ok);
    assert.ok(run.ops.filter((x) => x.outcome === "ok").length > 100, "the workload did real work");
    assert.is(run.anomalies.length, 0, `clients saw states no acknowledged history allows: ${run.anomalies.slice(0, 5).join("; ")}`);
    assert.is(failed.length, 0, `failed: ${failed.map((r) => `${r.name}: ${r.detail.slice(0, 3).join("; ")}`).join(" || ")}`);
  } finally {
    await store?.close().catch(() => {});
    await tc?.stop();
  }
});

test.run();
