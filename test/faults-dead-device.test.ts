// Fault injection: a device marked dead while it holds hundreds of files — every file returns to
// its class's copy count on live devices — and the reaper leader is killed (kill -9) halfway
// through, so a second reaper takes the lease over and finishes the work from the database.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Kvm } from "@nats-io/kv";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { kill, alive, metadata, putLoad, waitForPolicy, verifyEveryCopy, duplicateFids, log } from "./helpers/faults.ts";
import { buckets } from "../protocol/subjects.ts";
import { recoveryKey } from "../actors/reaper/recovery.ts";
import { RecoveryStatus } from "../protocol/schemas.ts";
import type { LeaseRecord } from "../actors/runtime/lease.ts";
import type { Store } from "../actors/runtime/mongo.ts";

const FILES = 300;
const t = suite<{ tc: TestCluster; store: Store }>("faults: dead device");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("faults-dead", {
    counts: { reaper: 2 },
    env: {
      // small, slow batches so the leader can be killed mid-recovery; a short grace keeps it quick
      MOGILE_REAPER_BATCH: "10",
      MOGILE_REAPER_BATCH_PAUSE_MS: "400",
      MOGILE_REAPER_DEAD_GRACE_MS: "3000",
      MOGILE_REAPER_DEAD_CHECK_MS: "1000",
    },
  });
  ctx.store = await metadata(ctx.tc.cluster);
  await ctx.tc.client.createDomain("dd");
  await ctx.tc.client.createClass("dd", "two", 2);
});
t.after(async (ctx) => { await ctx.store?.close(); await ctx.tc?.stop(); });

t("reaper - a dead device's files all return to 2 copies, even when the leader dies halfway", async ({ tc, store }) => {
  const kvm = new Kvm(tc.client.nc);
  const leases = await until(() => kvm.open(buckets.leases).catch(() => null), 20_000, "leases bucket");
  const holder = async () => {
    const e = await leases.get("reaper");
    return e && e.operation === "PUT" ? e.json<LeaseRecord>().holder : null;
  };
  const reapers = tc.cluster.actors.filter((a) => a.role === "reaper");
  const first = await until(holder, 30_000, "a reaper leader");
  assert.ok(reapers.some((r) => r.instance === first), `the lease names a running reaper (${first})`);

  const load = await putLoad(tc.client, { domain: "dd", cls: "two", workers: 8, stop: () => false, maxFiles: FILES, size: () => 2000 + Math.floor(Math.random() * 6000) });
  assert.is(load.errors.length, 0, "every upload succeeded before the fault");
  await waitForPolicy(store, "dd", load.acked.keys(), 2, 120_000);

  // the device holding the most files dies
  const counts = await store.files.aggregate<{ _id: number; n: number }>([{ $match: { domain: "dd" } }, { $unwind: "$devids" }, { $group: { _id: "$devids", n: { $sum: 1 } } }]).toArray();
  const victim = counts.sort((a, b) => b.n - a.n)[0];
  const host = tc.cluster.storage.find((s) => s.devids.includes(victim._id))!;
  log(`marking device ${victim._id} (${host.host}) dead with ${victim.n} files on it`);
  assert.ok(victim.n >= 100, "the device holds hundreds of files");
  await tc.client.setState(host.host, victim._id, "dead");
  const t0 = Date.now();

  const recovery = await until(() => kvm.open(buckets.recovery).catch(() => null), 30_000, "recovery bucket");
  const status = async () => {
    const e = await recovery.get(recoveryKey(victim._id));
    return e && e.operation === "PUT" ? RecoveryStatus.parse(e.json()) : null;
  };
  // the leader is killed once it has requeued some files but not all
  const midway = await until(async () => { const s = await status(); return s && s.phase === "requeueing" && s.requeued > 0 && s; }, 60_000, "recovery under way");
  assert.is(midway.total, victim.n);
  const leader = (await holder())!;
  const victimReaper = reapers.find((r) => r.instance === leader)!;
  log(`killing the reaper leader ${leader} after ${midway.requeued} of ${midway.total} files`);
  await kill(victimReaper.proc);
  const killedAt = Date.now();
  const successor = await until(async () => { const h = await holder(); return h && h !== leader && h; }, 30_000, "another reaper takes the lease");
  const takeover = Date.now() - killedAt;
  log(`${successor} took the lease over after ${takeover} ms`);
  assert.ok(takeover < 20_000, "takeover within the lease TTL plus a retry");
  assert.ok(reapers.some((r) => r.instance === successor && alive(r.proc)));

  const done = await until(async () => { const s = await status(); return s && s.phase === "done" && s; }, 120_000, "recovery done");
  assert.is(done.remaining, 0);
  assert.is(done.noOtherCopy, 0, "every file had another copy");
  assert.ok(done.requeued >= victim.n, "every file on the device was requeued");
  assert.is(await store.files.countDocuments({ devids: victim._id }), 0, "no file names the dead device");

  await waitForPolicy(store, "dd", load.acked.keys(), 2, 180_000, new Set([victim._id]));
  log(`all ${FILES} files back at 2 copies ${Math.round((Date.now() - t0) / 1000)} s after the device died`);
  assert.equal(await duplicateFids(store, "dd"), [], "no two keys share a fid");
  await verifyEveryCopy(tc.client, "dd", load.acked, 2);
});

t.run();
