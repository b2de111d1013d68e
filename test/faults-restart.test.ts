// Fault injection: the whole cluster stops and starts again on the same data dir, twice — once
// cleanly (SIGTERM) while replication is still under way, once by kill -9 of every process
// (actors, storage agents, nats-server, FerretDB) — and everything is there afterwards: every
// file reads back byte-identical from every copy and reaches its copy count; queued jobs survive.
// (test/lifecycle.test.ts covers the clean restart of a settled cluster and the actors' exit codes.)
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { jetstreamManager } from "@nats-io/jetstream";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { kill, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, log, type LoadResult } from "./helpers/faults.ts";
import { streams } from "../protocol/subjects.ts";

const t = suite<{ tc: TestCluster; dataDir: string; files: Map<string, Buffer> }>("faults: whole-cluster restart");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("faults-restart");
  ctx.dataDir = ctx.tc.dataDir;
  ctx.files = new Map();
  await ctx.tc.client.createDomain("fx");
  await ctx.tc.client.createClass("fx", "two", 2);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const restart = async (ctx: { tc: TestCluster; dataDir: string }) => {
  ctx.tc = await startTestCluster("faults-restart", { dataDir: ctx.dataDir });
};

const writeSome = async (tc: TestCluster, files: Map<string, Buffer>, prefix: string, n: number) => {
  const r: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  await putLoad(tc.client, { domain: "fx", cls: "two", workers: 8, stop: () => false, maxFiles: n, size: () => 1000 + Math.floor(Math.random() * 60_000), prefix, result: r });
  assert.is(r.errors.length, 0, "every upload succeeded");
  for (const [k, v] of r.acked) files.set(k, v);
};

const checkAll = async (tc: TestCluster, files: Map<string, Buffer>) => {
  const store = await metadata(tc.cluster);
  try {
    await waitForPolicy(store, "fx", files.keys(), 2, 120_000);
    assert.equal(await duplicateFids(store, "fx"), [], "no two keys share a fid");
  } finally {
    await store.close();
  }
  await verifyEveryCopy(tc.client, "fx", files, 2);
};

t("restart - a clean stop with replication under way loses nothing", async (ctx) => {
  await writeSome(ctx.tc, ctx.files, "clean", 200);
  const jsm = await jetstreamManager(ctx.tc.client.nc);
  const pending = (await jsm.streams.info(streams.replicate)).state.messages;
  log(`stopping with ${pending} replicate jobs still queued`);
  await ctx.tc.stop({ keepData: true });
  await restart(ctx);
  await checkAll(ctx.tc, ctx.files);
});

t("restart - kill -9 of every process, infrastructure included, loses nothing", async (ctx) => {
  await writeSome(ctx.tc, ctx.files, "killed", 200);
  const { cluster } = ctx.tc;
  const procs = [...cluster.actors.map((a) => a.proc), ...cluster.storage.map((s) => s.proc), ...cluster.services.flatMap((s) => (s.proc ? [s.proc] : []))];
  log(`kill -9 of ${procs.length} processes`);
  await Promise.all(procs.map((p) => kill(p)));
  // MogileClient.close() drains, which fails on a connection that lost its server and leaves it
  // reconnecting forever: close it outright
  await ctx.tc.client.nc.close().catch(() => {});
  // PostgreSQL daemonizes (pg_ctl): the stop below shuts it down; FerretDB above is gone already
  await ctx.tc.stop({ keepData: true });
  await restart(ctx);
  await checkAll(ctx.tc, ctx.files);
  // and the cluster takes writes again
  await writeSome(ctx.tc, ctx.files, "after", 20);
  await checkAll(ctx.tc, ctx.files);
});

t.run();
