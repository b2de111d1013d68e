// Integration: a device in drain is emptied onto others (on disk and in metadata) with every file
// kept at its copies; rebalance_test reports without moving; rebalance evens usage.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { MogileError } from "../protocol/errors.ts";

const t = suite<{ tc: TestCluster; keys: string[] }>("drain");
const FILES = 50;
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("drain", { env: { MOGILE_FSCK_IDLE_MS: "500" } });
  await ctx.tc.client.createDomain("dr");
  ctx.keys = [];
  for (let i = 0; i < FILES; i++) {
    await ctx.tc.client.put("dr", `f${i}`, randomBytes(2000 + ((i * 997) % 6000)));
    ctx.keys.push(`f${i}`);
  }
  await until(async () => (await layout(ctx.tc, ctx.keys)).every((f) => f.devids.length === 2), 60_000, "every file at 2 copies");
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };
const layout = (tc: TestCluster, keys: string[]) => Promise.all(keys.map(async (k) => {
  const i = await tc.client.fileInfo("dr", k);
  return { key: k, fid: i.fid, length: i.length, devids: [...i.devids!].sort((a, b) => a - b) };
}));
const hostOf = (tc: TestCluster, devid: number) => tc.cluster.storage.find((s) => s.devids.includes(devid))!;
const fidsOnDisk = (tc: TestCluster, devid: number): string[] => {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (e.name.endsWith(".fid")) out.push(e.name);
    }
  };
  walk(path.join(hostOf(tc, devid).root, `dev${devid}`));
  return out;
};
const spreadOk = (tc: TestCluster, devids: number[]) => devids.length === 2 && new Set(devids.map((d) => hostOf(tc, d).host)).size === 2;
const bytesPerDevice = (files: { length: number; devids: number[] }[]) => {
  const m = new Map<number, number>();
  for (let d = 1; d <= 6; d++) m.set(d, 0);
  for (const f of files) for (const d of f.devids) m.set(d, (m.get(d) ?? 0) + f.length);
  return m;
};

t("drain - every file leaves a drained device (disk and metadata) and keeps 2 copies on 2 hosts", async ({ tc, keys }) => {
  const before = await layout(tc, keys);
  const counts = bytesPerDevice(before.map((f) => ({ ...f, length: 1 })));
  const victim = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  assert.ok(counts.get(victim)! > 0);
  await tc.client.setState(hostOf(tc, victim).host, victim, "drain");
  const after = await until(async () => {
    const l = await layout(tc, keys);
    return l.every((f) => !f.devids.includes(victim)) && l;
  }, 120_000, `device ${victim} emptied in metadata`);
  for (const f of after) assert.ok(spreadOk(tc, f.devids), `${f.key}: ${f.devids}`);
  await until(() => fidsOnDisk(tc, victim).length === 0, 60_000, `device ${victim} empty on disk`);
  // every file still reads back whole
  for (const f of after.slice(0, 10)) {
    const paths = (await tc.client.getPaths("dr", f.key)).paths;
    assert.is(paths.length, 2);
  }
  await tc.client.setState(hostOf(tc, victim).host, victim, "alive");
});

t("rebalance - refusals before a policy, and a bad policy", async ({ tc }) => {
  assert.is(await code(tc.client.rpc("rebalance_test", {})), "no_rebal_policy");
  assert.is(await code(tc.client.rpc("rebalance_start", {})), "no_rebal_policy");
  assert.is(await code(tc.client.rpc("rebalance_status", {})), "no_rebal_state");
  assert.is(await code(tc.client.rpc("rebalance_stop", {})), "rebal_not_started");
  assert.is(await code(tc.client.rpc("rebalance_set_policy", { policy: "bogus_key=1" })), "bad_rebal_pol");
  assert.is(await code(tc.client.rpc("rebalance_set_policy", { policy: "limit_by=percent limit=5" })), "bad_rebal_pol");
  assert.is(await code(tc.client.rpc("rebalance_set_policy", { policy: "from_percent_used=120" })), "bad_rebal_pol");
});

t("rebalance - rebalance_test reports the devices, files and bytes that would move, and moves nothing", async ({ tc, keys }) => {
  // after the drain, one device is empty: the plan fills it
  await until(async () => (await tc.client.getDevices()).every((d) => d.observed_state === "writeable" && d.status === "alive"), 30_000, "every device alive");
  await tc.client.rpc("rebalance_set_policy", { policy: "limit_by=none leave_in_drain_mode=0" });
  const before = await layout(tc, keys);
  const plan = await tc.client.rpc("rebalance_test", {});
  assert.ok(plan.sdevs.length > 0 && plan.ddevs.length > 0, JSON.stringify(plan));
  assert.ok(plan.files > 0 && plan.bytes > 0, JSON.stringify(plan));
  assert.ok(plan.bytes <= before.reduce((s, f) => s + f.length * 2, 0));
  assert.equal(await layout(tc, keys), before, "nothing moved");

  // a count limit bounds the plan
  await tc.client.rpc("rebalance_set_policy", { policy: "limit_by=count limit=2" });
  assert.is((await tc.client.rpc("rebalance_test", {})).files, 2);
  await tc.client.rpc("rebalance_set_policy", { policy: `limit_by=size limit=${plan.bytes}` });
  assert.ok((await tc.client.rpc("rebalance_test", {})).bytes <= plan.bytes);
});

t("rebalance - a run evens stored bytes across devices within a bound, every file kept at 2 copies", async ({ tc, keys }) => {
  await tc.client.rpc("rebalance_set_policy", { policy: "" });
  const before = await layout(tc, keys);
  const spread = (m: Map<number, number>) => Math.max(...m.values()) - Math.min(...m.values());
  const s0 = spread(bytesPerDevice(before));
  const started = await tc.client.rpc("rebalance_start", {});
  assert.match(started.state, /time_started=\d+/);
  assert.is(await code(tc.client.rpc("rebalance_start", {})), "rebal_running");
  assert.is(await code(tc.client.rpc("fsck_start", {})), "rebal_running");
  assert.is(await code(tc.client.rpc("rebalance_set_policy", { policy: "" })), "no_set_rebal");
  const done = await until(async () => {
    const s = await tc.client.rpc("rebalance_status", {});
    return !s.running && s.time_finished !== null && s;
  }, 120_000, "rebalance to finish");
  assert.ok(done.files_moved > 0, JSON.stringify(done));
  assert.is(done.failed, 0);

  const after = await layout(tc, keys);
  for (const f of after) assert.ok(spreadOk(tc, f.devids), `${f.key}: ${f.devids}`);
  const bytes = bytesPerDevice(after);
  const mean = [...bytes.values()].reduce((a, b) => a + b, 0) / bytes.size;
  const biggest = Math.max(...after.map((f) => f.length));
  // each device within a file's size (plus 5 %) of the mean, and much flatter than before
  for (const [devid, b] of bytes) assert.ok(Math.abs(b - mean) <= biggest + mean * 0.05, `device ${devid}: ${b} bytes, mean ${mean}`);
  assert.ok(spread(bytes) < s0 / 2, `spread ${s0} → ${spread(bytes)}`);
  // moved copies left their old devices on disk too
  await until(() => {
    for (let d = 1; d <= 6; d++) if (fidsOnDisk(tc, d).length !== after.filter((f) => f.devids.includes(d)).length) return false;
    return true;
  }, 60_000, "disk matches metadata");

  await tc.client.rpc("rebalance_reset", {});
  assert.is(await code(tc.client.rpc("rebalance_status", {})), "no_rebal_state");
});

t.run();
