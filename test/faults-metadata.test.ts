// Fault injection: the metadata server (FerretDB) is killed and started again on the same port
// under a load of puts and get_paths. Writes may fail while it is away; the actors reconnect
// on their own and carry on, and every acknowledged file is intact and at its copy count.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { kill, alive, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, linkedButNotAcked, summarize, log, type LoadResult } from "./helpers/faults.ts";
import { stopProcess, waitForPort } from "../deploy/services.ts";

const WORKERS = 6;
const OUTAGE_MS = 3_000;
const t = suite<{ tc: TestCluster }>("faults: metadata server");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("faults-meta");
  await ctx.tc.client.createDomain("fm");
  await ctx.tc.client.createClass("fm", "two", 2);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

t("metadata - FerretDB restarted under load: actors reconnect and carry on", async ({ tc }) => {
  const services = tc.cluster.services;
  const i = services.findIndex((s) => s.name === "ferretdb");
  if (i < 0) { log("no FerretDB in this cluster (MOGILE_MONGO_URL or mongod): skipped"); return; }
  const old = services[i].proc!;
  const port = Number(/--listen-addr=127\.0\.0\.1:(\d+)/.exec(old.spawnargs.join(" "))![1]);

  const result: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  let stopAt = Infinity;
  const load = putLoad(tc.client, {
    domain: "fm", cls: "two", workers: WORKERS, reads: true, maxFiles: 5_000, result,
    stop: () => Date.now() > stopAt, size: () => 1000 + Math.floor(Math.random() * 15_000),
  });
  try {
    await until(() => result.acked.size >= 50, 60_000, "load under way");
    const before = result.ops;
    log(`killing FerretDB (port ${port}) after ${before} operations; back in ${OUTAGE_MS} ms`);
    const downAt = Date.now();
    await kill(old);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // the same server again: same binary, arguments, port and PostgreSQL backend
    const fd = openSync(path.join(tc.dataDir, "logs", "ferretdb.log"), "a");
    const env = services[i].env ?? {};
    const proc = spawn(old.spawnfile, old.spawnargs.slice(1), { stdio: ["ignore", fd, fd], env: { ...process.env, DO_NOT_TRACK: "1", ...env }, detached: true });
    services[i] = { name: "ferretdb", proc, stop: () => stopProcess(proc), env };
    await waitForPort(port, 30_000, "ferretdb", proc);
    const upAt = Date.now();
    log(`FerretDB back after ${upAt - downAt} ms`);

    // carrying on: puts succeed again within a bounded time after the server is back
    const ackedAtUp = result.acked.size;
    await until(() => result.acked.size >= ackedAtUp + 50, 60_000, "puts succeeding again");
    const recoveredIn = Date.now() - upAt;
    stopAt = Date.now() + 5_000;
    await load;
    const late = result.errors.filter((e) => e.startedAt > upAt + recoveredIn + 1_000);
    log(`writes flowing again ${recoveredIn} ms after the restart; ${result.ops - before} operations since the kill; failures: ${summarize(result.errors)}`);
    assert.ok(recoveredIn < 30_000, "writes resume within 30 s of the server's return");
    assert.is(late.length, 0, "no failures once writes flow again");
  } finally {
    stopAt = 0;
    await load;
  }
  for (const a of tc.cluster.actors) assert.ok(alive(a.proc), `${a.instance} is still running (exit ${a.proc.exitCode ?? a.proc.signalCode}; see ${tc.dataDir}/logs/${a.instance}.log)`);
  for (const s of tc.cluster.storage) assert.ok(alive(s.proc), `${s.host} is still running`);

  const store = await metadata(tc.cluster);
  try {
    const extra = await linkedButNotAcked(store, "fm", result);
    const all = new Map([...result.acked, ...extra]);
    await waitForPolicy(store, "fm", all.keys(), 2, 180_000);
    assert.equal(await duplicateFids(store, "fm"), [], "no two keys share a fid");
    await verifyEveryCopy(tc.client, "fm", all, 2);
  } finally {
    await store.close();
  }
});

t.run();
