// Fault injection: a 3-node NATS cluster on loopback with every stream and bucket replicated
// three times (R3); the node leading the replicate stream is killed (kill -9) under load. Actors
// and clients reconnect to the other nodes; no replicate or delete job is lost (files reach 2
// copies, deleted files' bytes go) and heartbeats keep flowing into the replicated stream.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import path from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { alive, errCode, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, linkedButNotAcked, summarize, timeline, log, type LoadResult } from "./helpers/faults.ts";
import { streams, subjects, buckets } from "../protocol/subjects.ts";
import { fidPath } from "../protocol/paths.ts";
import type { Store } from "../actors/runtime/mongo.ts";

const WORKERS = 6;
const t = suite<{ tc: TestCluster; store: Store }>("faults: NATS cluster");
t.before(async (ctx) => {
  // uvu reports a failed before-hook only as a missing pass: say what failed
  try {
    ctx.tc = await startTestCluster("faults-nats", { natsNodes: 3 });
    ctx.store = await metadata(ctx.tc.cluster);
    await ctx.tc.client.createDomain("fn");
    await ctx.tc.client.createClass("fn", "two", 2);
  } catch (err) {
    log(`setup failed: ${(err as Error).stack ?? err}`);
    throw err;
  }
});
t.after(async (ctx) => { await ctx.store?.close(); await ctx.tc?.stop(); });

const R3 = [streams.heartbeats, streams.replicate, streams.delete, ...[buckets.deviceState, buckets.uploads, buckets.leases, buckets.recovery].map((b) => `KV_${b}`)];

async function replication(jsm: JetStreamManager) {
  return Promise.all(R3.map(async (name) => {
    const si = await jsm.streams.info(name);
    return { name, replicas: si.config.num_replicas, leader: si.cluster?.leader, current: (si.cluster?.replicas ?? []).filter((r) => r.current && !r.offline).length };
  }));
}

t("nats - kill -9 of a node under load loses no job and no heartbeat stream", async ({ tc, store }) => {
  const jsm = await jetstreamManager(tc.client.nc);
  // the reaper creates its buckets when it starts: wait for them
  await until(async () => (await replication(jsm).catch(() => [])).length === R3.length, 30_000, "every stream and bucket");
  for (const s of await replication(jsm)) assert.is(s.replicas, 3, `${s.name} is R3`);

  // files to delete once the node is gone: their delete jobs must survive the failover
  const doomed: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  await putLoad(tc.client, { domain: "fn", cls: "two", workers: WORKERS, stop: () => false, maxFiles: 60, size: () => 4000, prefix: "doomed", result: doomed });
  await waitForPolicy(store, "fn", doomed.acked.keys(), 2, 60_000);
  const doomedDocs = await store.files.find({ domain: "fn", key: { $in: [...doomed.acked.keys()] } }).toArray();

  const result: LoadResult = { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  let stopAt = Infinity;
  const load = putLoad(tc.client, {
    domain: "fn", cls: "two", workers: WORKERS, reads: true, maxFiles: 20_000, result,
    stop: () => Date.now() > stopAt, size: () => 1000 + Math.floor(Math.random() * 30_000),
  });
  let killedAt = 0;
  try {
    await until(() => result.acked.size >= 60, 60_000, "load under way");
    const leaderName = (await jsm.streams.info(streams.replicate)).cluster!.leader!;
    const victim = tc.cluster.natsNodes.find((n) => n.name === leaderName)!;
    log(`killing ${victim.name} (leader of ${streams.replicate}) after ${result.ops} operations`);
    killedAt = Date.now();
    await victim.kill();
    // delete jobs queued while the cluster elects new leaders
    const undeleted: string[] = [];
    for (const key of doomed.acked.keys()) {
      const t0 = Date.now();
      await tc.client.delete("fn", key).catch((err) => {
        result.errors.push({ op: "delete", code: errCode(err), startedAt: t0, endedAt: Date.now() });
        undeleted.push(key);
      });
    }
    stopAt = killedAt + 25_000;
    await load;
    log(`${result.acked.size} files acknowledged; failures: ${summarize(result.errors)}`);
    // requests in flight at the kill, and writes while the streams elect new leaders (JetStream
    // answers no-responders then: create_close fails fast), may fail; none started 15 s later
    if (result.errors.length) log(`failure window: first started ${Math.min(...result.errors.map((e) => e.startedAt)) - killedAt} ms, last ended ${Math.max(...result.errors.map((e) => e.endedAt ?? 0)) - killedAt} ms after the kill`);
    const late = result.errors.filter((e) => e.startedAt > killedAt + 15_000);
    if (late.length) log(`late failures: ${timeline(late, killedAt)} (${late[0].message})`);
    assert.is(late.length, 0, "no failures among requests started 15 s after the kill");

    // heartbeats keep landing in the replicated stream, for every device
    const devices = await tc.client.getDevices();
    await until(async () => {
      for (const d of devices) {
        const m = await jsm.streams.getMessage(streams.heartbeats, { last_by_subj: subjects.heartbeat(d.hostid, d.devid) });
        if (!m || m.time.getTime() < killedAt) return false;
      }
      return true;
    }, 30_000, "a heartbeat after the kill from every device");

    const streamsNow = await until(async () => {
      const r = await replication(jsm);
      return r.every((s) => s.leader && s.leader !== victim.name) && r;
    }, 30_000, "every stream led from a surviving node");
    for (const s of streamsNow) assert.is(s.replicas, 3, `${s.name} still R3`);
    for (const a of tc.cluster.actors) assert.ok(alive(a.proc), `${a.instance} still running (reconnected)`);

    // no job lost: every file reaches 2 copies, every deleted file's bytes are removed
    const extra = await linkedButNotAcked(store, "fn", result);
    const all = new Map([...result.acked, ...extra]);
    await waitForPolicy(store, "fn", all.keys(), 2, 180_000);
    assert.equal(await duplicateFids(store, "fn"), [], "no two keys share a fid");
    const onDisk = (fid: number, devid: number) => {
      const host = tc.cluster.storage.find((s) => s.devids.includes(devid))!;
      return existsSync(path.join(host.root, fidPath(devid, fid)));
    };
    // deletes refused during the failover are repeated (a timed-out one may have happened)
    for (const key of undeleted) {
      await until(() => tc.client.delete("fn", key).then(() => true, (err) => errCode(err) === "unknown_key"), 30_000, `delete of ${key}`);
    }
    await until(() => doomedDocs.every((d) => d.devids.every((devid) => !onDisk(d.fid, devid))), 120_000, "deleted files' bytes removed");
    await verifyEveryCopy(tc.client, "fn", all, 2);

    // the node comes back and catches up
    await victim.start();
    await until(async () => (await replication(jsm)).every((s) => s.current === 2), 60_000, "every replica current again");
  } finally {
    stopAt = 0;
    await load;
  }
});

t.run();
