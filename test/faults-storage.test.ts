// Fault injection: a storage agent is killed (kill -9) in the middle of uploads. Writers with
// Buffers fail over to the next candidate device; nothing half-written is ever linked (every
// linked key, acknowledged or not, reads back byte-identical from every copy); once the host is
// back every file reaches its class's copy count.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { kill, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, linkedButNotAcked, summarize, log, type LoadResult } from "./helpers/faults.ts";
import type { Store } from "../actors/runtime/mongo.ts";

const FILES = 240;
const WORKERS = 8;
const t = suite<{ tc: TestCluster; store: Store }>("faults: storage agent");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("faults-storage");
  ctx.store = await metadata(ctx.tc.cluster);
  await ctx.tc.client.createDomain("fs");
  await ctx.tc.client.createClass("fs", "two", 2);
});
t.after(async (ctx) => { await ctx.store?.close(); await ctx.tc?.stop(); });

t("storage - kill -9 mid-upload: writers fail over and every linked file is whole", async ({ tc, store }) => {
  const result: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  // files of up to 1 MiB: at any moment several PUTs are mid-body
  const size = () => 128 * 1024 + Math.floor(Math.random() * 896 * 1024);
  const load = putLoad(tc.client, { domain: "fs", cls: "two", workers: WORKERS, stop: () => false, maxFiles: FILES, size, result });
  await until(() => result.acked.size >= FILES / 4, 60_000, "uploads under way");
  const victim = tc.cluster.storage[1];
  log(`killing storage ${victim.host} (devices ${victim.devids.join(",")}) after ${result.acked.size} files`);
  await kill(victim.proc);
  await load;
  log(`${result.acked.size} of ${FILES} uploads acknowledged; failures: ${summarize(result.errors)}`);
  // a PUT cut off mid-body is retried on the next device; only a create_close racing the kill
  // (its HEAD check finds the host gone) can fail, at most one per writer in flight
  assert.ok(result.errors.length <= WORKERS, `at most ${WORKERS} failed uploads (got ${result.errors.length})`);
  assert.ok(result.acked.size >= FILES - WORKERS);

  // linked but never acknowledged (the writer saw an error after create_close committed): still whole
  const extra = await linkedButNotAcked(store, "fs", result);
  if (extra.size) log(`${extra.size} keys linked without an acknowledgement; checking them too`);

  await tc.cluster.startStorage(victim.host, victim.devids);
  // get_paths lists only devices seen alive: wait for the restarted agent's heartbeats
  await until(async () => (await tc.client.getDevices()).filter((d) => victim.devids.includes(d.devid)).every((d) => d.observed_state === "writeable"), 60_000, "restarted devices seen writeable");
  const all = new Map([...result.acked, ...extra]);
  await waitForPolicy(store, "fs", all.keys(), 2, 180_000);
  assert.equal(await duplicateFids(store, "fs"), [], "no two keys share a fid");
  await verifyEveryCopy(tc.client, "fs", all, 2);
});

t.run();
