// Fault injection: the replicator is killed (kill -9) mid-job with many files queued; a new one
// starts. JetStream redelivers the unacknowledged jobs (after ack_wait), and every file ends with
// exactly its class's copies: none missing, none extra, no device listed twice.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { jetstreamManager } from "@nats-io/jetstream";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { kill, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, log, type LoadResult } from "./helpers/faults.ts";
import { streams, consumers } from "../protocol/subjects.ts";
import type { Store } from "../actors/runtime/mongo.ts";

const FILES = 300;
const t = suite<{ tc: TestCluster; store: Store }>("faults: replicator");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("faults-repl");
  ctx.store = await metadata(ctx.tc.cluster);
  await ctx.tc.client.createDomain("fr");
  // copies after the ack (MogileFS behaviour): the replicator, not the PUT's chain, makes the second
  await ctx.tc.client.rpc("create_class", { domain: "fr", class: "two", mindevcount: 2, async_copies: 1 });
});
t.after(async (ctx) => { await ctx.store?.close(); await ctx.tc?.stop(); });

t("replicator - killed mid-job with files queued: a new one brings every file to exactly 2 copies", async ({ tc, store }) => {
  const jsm = await jetstreamManager(tc.client.nc);
  const first = tc.cluster.actors.find((a) => a.role === "replicator")!;
  const result: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  let killedWith = -1;
  // big enough that copies take a moment: the kill lands while jobs are being worked on
  const size = () => 64 * 1024 + Math.floor(Math.random() * 192 * 1024);
  const load = putLoad(tc.client, { domain: "fr", cls: "two", workers: 8, stop: () => false, maxFiles: FILES, size, result });
  await until(async () => {
    if (result.acked.size < FILES / 3) return false;
    const ci = await jsm.consumers.info(streams.replicate, consumers.replicator);
    if (ci.num_ack_pending === 0) return false; // wait for a moment with jobs in hand
    killedWith = ci.num_ack_pending;
    await kill(first.proc);
    return true;
  }, 60_000, "the replicator busy with jobs");
  log(`killed ${first.instance} with ${killedWith} jobs unacknowledged, ${result.acked.size} files written`);
  await load;
  assert.is(result.errors.length, 0, "uploads do not depend on the replicator");
  const queued = (await jsm.streams.info(streams.replicate)).state.messages;
  log(`${queued} replicate jobs waiting; starting a new replicator`);
  assert.ok(queued > 0, "jobs were left queued");

  const t0 = Date.now();
  await tc.cluster.spawnActor("replicator");
  // the killed actor's jobs come back after the consumer's ack_wait (60 s)
  const devids = await waitForPolicy(store, "fr", result.acked.keys(), 2, 150_000);
  log(`all ${FILES} files at 2 copies ${Math.round((Date.now() - t0) / 1000)} s after the restart`);
  for (const [key, ids] of devids) {
    assert.is(ids.length, 2, `${key} has 2 devids`);
    assert.is(new Set(ids).size, 2, `${key} lists no device twice`);
  }
  // nothing left behind: no job parked as failed, the queue drained
  await until(async () => (await jsm.streams.info(streams.replicate)).state.messages === 0, 90_000, "replicate queue drained");
  assert.equal(await tc.client.failedJobs({ kind: "replicate" }), [], "no replicate job given up on");
  assert.equal(await duplicateFids(store, "fr"), [], "no two keys share a fid");
  await verifyEveryCopy(tc.client, "fr", result.acked, 2);
});

t.run();
