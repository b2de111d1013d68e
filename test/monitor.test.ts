// Integration: the monitor — live heartbeats for operators, test writes that catch a device that
// cannot write, and state-change events when a storage host goes away.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync, rmSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { stopProcess } from "../deploy/services.ts";
import { subjects } from "../protocol/subjects.ts";

const t = suite<{ tc: TestCluster }>("monitor");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("monitor", { env: { MOGILE_MONITOR_PROBE_MS: "300", MOGILE_HEARTBEAT_TIMEOUT_MS: "3000" } });
  await ctx.tc.client.createDomain("m");
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const observed = async (tc: TestCluster, devid: number) => (await tc.client.rpc("get_devices", { devid })).devices[0].observed_state;

t("monitor - operators see live heartbeats on mogile.hb.>", async ({ tc }) => {
  const seen = new Map<string, { total: number; free: number }>();
  const sub = tc.client.nc.subscribe(subjects.heartbeatAll);
  const deadline = setTimeout(() => sub.unsubscribe(), 5_000);
  for await (const m of sub) {
    seen.set(m.subject, m.json());
    if (seen.size === 6) break;
  }
  clearTimeout(deadline);
  sub.unsubscribe();
  assert.is(seen.size, 6, "a heartbeat from every device");
  for (const hb of seen.values()) assert.ok(hb.total > 0 && hb.free > 0);
});

t("monitor - a device that fails its test write is readable only and gets no new files", async ({ tc }) => {
  const host = tc.cluster.storage.find((s) => s.devids.includes(1))!;
  // the device stays mounted (its marker is in place); only its probe directory cannot be written
  const dir = path.join(host.root, "dev1", "test-write");
  await until(() => { rmSync(dir, { recursive: true, force: true }); writeFileSync(dir, "not a directory"); return true; }, 5_000, "probe directory replaced by a file");
  try {
    await until(async () => (await observed(tc, 1)) === "readable", 15_000, "dev1 readable");
    for (let i = 0; i < 30; i++) {
      const open = await tc.client.rpc("create_open", { domain: "m", key: `k${i}`, multi_dest: true });
      assert.not.ok(open.dests.some((d) => d.devid === 1), "dev1 is never offered for writes");
    }
  } finally {
    rmSync(dir);
  }
  await until(async () => (await observed(tc, 1)) === "writeable", 15_000, "dev1 writeable again");
});

t("monitor - a storage host going away is announced as a state change", async ({ tc }) => {
  const host = tc.cluster.storage[2];
  const events: { devid: number; to: string }[] = [];
  const sub = tc.client.nc.subscribe(subjects.deviceState, { callback: (_e, m) => { events.push(m.json()); } });
  await stopProcess(host.proc);
  try {
    await until(() => host.devids.every((d) => events.some((e) => e.devid === d && e.to === "unreachable")), 15_000, "unreachable events");
    for (const d of host.devids) assert.is(await observed(tc, d), "unreachable");
    await tc.cluster.startStorage(host.host, host.devids);
    await until(() => host.devids.every((d) => events.some((e) => e.devid === d && e.to === "writeable")), 15_000, "writeable events");
  } finally {
    sub.unsubscribe();
  }
});

t.run();
