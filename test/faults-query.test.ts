// Fault injection: one of two query actors is killed (kill -9) under a load of puts and
// get_paths. Requests in flight on it at that instant may time out (counted and bounded);
// every request started after the kill is served, and every acknowledged file is intact.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { kill, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, linkedButNotAcked, summarize, log, type LoadResult } from "./helpers/faults.ts";
import type { Store } from "../actors/runtime/mongo.ts";

const WORKERS = 8;
const t = suite<{ tc: TestCluster; store: Store }>("faults: query actor");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("faults-query", { counts: { query: 2 } });
  ctx.store = await metadata(ctx.tc.cluster);
  await ctx.tc.client.createDomain("fq");
  await ctx.tc.client.createClass("fq", "two", 2);
});
t.after(async (ctx) => { await ctx.store?.close(); await ctx.tc?.stop(); });

t("query - kill -9 one of two under load: requests keep being served", async ({ tc, store }) => {
  const result: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  let stopAt = Infinity;
  const load = putLoad(tc.client, {
    domain: "fq", cls: "two", workers: WORKERS, reads: true, maxFiles: 5_000,
    stop: () => Date.now() > stopAt, size: () => 1000 + Math.floor(Math.random() * 15_000), result,
  });
  await until(() => result.ops >= 200, 60_000, "load under way").catch(async (err) => { stopAt = 0; await load; throw err; });
  const victim = tc.cluster.actors.find((a) => a.role === "query")!;
  const opsBefore = result.ops;
  const killedAt = Date.now();
  await kill(victim.proc);
  log(`killed ${victim.instance} after ${opsBefore} operations`);
  // keep the load on past the SDK's request timeout (10 s), so stragglers surface
  stopAt = killedAt + 15_000;
  await load;
  const after = result.errors.filter((e) => e.startedAt > killedAt + 1_000);
  log(`${result.ops - opsBefore} operations after the kill; failures: ${summarize(result.errors)}; started after kill+1s: ${after.length}`);
  assert.ok(result.ops - opsBefore > 100, "the surviving query actor kept serving");
  // only requests in flight on the victim at the kill may fail: one per writer at most
  assert.ok(result.errors.length <= WORKERS, `at most ${WORKERS} failures (got ${result.errors.length})`);
  assert.is(after.length, 0, "no failure among requests started a second after the kill");
  // "dup" here is the first fid-block allocation of two query actors racing on the counter upsert
  // (actors/runtime/mongo.ts FidAllocator.takeBlock): a bug, not an effect of the kill
  const wrong = result.errors.filter((e) => e.code !== "timeout");
  assert.equal(wrong.map((e) => `${e.op}:${e.code}`), [], "every failure is a timeout at the kill, not a wrong answer");

  const extra = await linkedButNotAcked(store, "fq", result);
  const all = new Map([...result.acked, ...extra]);
  await waitForPolicy(store, "fq", all.keys(), 2, 120_000);
  assert.equal(await duplicateFids(store, "fq"), [], "no two keys share a fid");
  await verifyEveryCopy(tc.client, "fq", all, 2);
});

t.run();
