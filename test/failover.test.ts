// Integration: the SDK fails over — uploads to the next candidate device, reads to the next copy,
// and a read that loses its copy mid-stream resumes from another one at the same offset.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until, readAll } from "./helpers/until.ts";
import { stopProcess } from "../deploy/services.ts";

const t = suite<{ tc: TestCluster }>("failover");
t.before(async (ctx) => {
  // a slow monitor: the cluster keeps offering a dead host for a while, as after a sudden crash
  ctx.tc = await startTestCluster("failover", { env: { MOGILE_HEARTBEAT_TIMEOUT_MS: "60000" } });
  await ctx.tc.client.createDomain("fo");
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const hostOf = (tc: TestCluster, devid: number) => tc.cluster.storage.find((s) => s.devids.includes(devid))!;
const hostOfUrl = (tc: TestCluster, url: string) => tc.cluster.storage.find((s) => url.startsWith(s.url))!;

t("sdk - uploads fail over to the next candidate when a storage host is down", async ({ tc }) => {
  const victim = tc.cluster.storage[0];
  await stopProcess(victim.proc, 0);
  try {
    for (let i = 0; i < 24; i++) {
      const body = randomBytes(2000 + i);
      const r = await tc.client.put("fo", `up/${i}`, body);
      assert.not.ok(victim.devids.includes(r.devid), "never stored on the dead host");
      assert.ok((await readAll((await tc.client.get("fo", `up/${i}`)).body)).equals(body));
    }
  } finally {
    await tc.cluster.startStorage(victim.host, victim.devids);
  }
});

t("sdk - reads fail over to another copy when a host holding one is down", async ({ tc }) => {
  const body = randomBytes(100_000);
  await tc.client.put("fo", "read/one", body);
  const info = await until(async () => { const i = await tc.client.fileInfo("fo", "read/one"); return i.devcount === 2 && i; }, 20_000, "2 copies");
  const victim = hostOf(tc, info.devids![0]);
  await stopProcess(victim.proc, 0);
  try {
    for (let i = 0; i < 5; i++) assert.ok((await readAll((await tc.client.get("fo", "read/one")).body)).equals(body));
  } finally {
    await tc.cluster.startStorage(victim.host, victim.devids);
  }
});

t("sdk - a read that loses its copy mid-stream resumes from the other copy", async ({ tc }) => {
  const size = 64 * 1024 * 1024;
  const chunk = randomBytes(1024 * 1024);
  const whole = createHash("sha256");
  for (let i = 0; i < 64; i++) whole.update(chunk);
  await tc.client.put("fo", "big", Buffer.concat(Array.from({ length: 64 }, () => chunk)));
  await until(async () => (await tc.client.fileInfo("fo", "big")).devcount === 2, 60_000, "2 copies of the big file");
  const r = await tc.client.get("fo", "big");
  const victim = hostOfUrl(tc, r.path);
  const got = createHash("sha256");
  let n = 0;
  let killed = false;
  for await (const c of r.body) {
    got.update(c);
    n += c.length;
    if (!killed && n >= 4 * 1024 * 1024) {
      killed = true;
      victim.proc.kill("SIGKILL"); // the copy being read vanishes mid-stream
      await new Promise((res) => victim.proc.once("exit", res));
    }
  }
  assert.ok(killed);
  assert.is(n, size);
  assert.is(got.digest("hex"), whole.digest("hex"), "the resumed stream is byte-identical");
  await tc.cluster.startStorage(victim.host, victim.devids);
});

t.run();
