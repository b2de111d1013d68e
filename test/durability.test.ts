// Integration: replication policies (MultipleDevices, zones), checksums computed by storage,
// verified replication copies, surplus copies, and per-class / per-request write durability.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { MogileError } from "../protocol/errors.ts";
import { fidPath } from "../protocol/paths.ts";
import { httpRequest, drain } from "../protocol/http.ts";

const t = suite<{ tc: TestCluster }>("durability");
// create_close waits at most 5 s for durable copies here (a loaded 2-CPU machine replicates a small file in well under that)
t.before(async (ctx) => { ctx.tc = await startTestCluster("durability", { env: { MOGILE_DURABLE_WAIT_MS: "5000", MOGILE_REPLICATOR_RETRY_MS: "500,1000,2000,4000" } }); });
t.after(async (ctx) => { await ctx.tc?.stop(); });

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };
const info = (tc: TestCluster, domain: string, key: string) => tc.client.rpc("file_info", { domain, key, devices: true });
async function hostOf(tc: TestCluster): Promise<Map<number, number>> {
  const devs = (await tc.client.rpc("get_devices", {})).devices;
  return new Map(devs.map((d) => [d.devid, d.hostid]));
}
function fileOnDisk(tc: TestCluster, devid: number, fid: number): string {
  const host = tc.cluster.storage.find((s) => s.devids.includes(devid))!;
  return path.join(host.root, fidPath(devid, fid));
}
/** create_open + PUT, leaving create_close to the test */
async function openAndPut(tc: TestCluster, domain: string, key: string, body: Buffer, cls?: string) {
  const open = await tc.client.rpc("create_open", { domain, key, class: cls });
  const res = await httpRequest(open.path, { method: "PUT", body, headers: { "x-mogile-hashtype": "SHA-256" } });
  await drain(res);
  assert.is(res.statusCode, 201);
  return { open, digest: res.headers["x-mogile-digest"] };
}

t("MultipleDevices - two copies on distinct devices, possibly on one host", async ({ tc }) => {
  await tc.client.rpc("create_domain", { domain: "dev" });
  await tc.client.rpc("create_class", { domain: "dev", class: "md", mindevcount: 1, replpolicy: "MultipleDevices(2)" });
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  await Promise.all(keys.map((k) => tc.client.put("dev", k, randomBytes(100), { class: "md" })));
  const host = await hostOf(tc);
  let sameHost = 0;
  for (const k of keys) {
    const f = await until(async () => { const x = await info(tc, "dev", k); return x.devcount >= 2 && x; }, 60_000, `two copies of ${k}`);
    assert.is(new Set(f.devids).size, 2);
    if (host.get(f.devids![0]) === host.get(f.devids![1])) sameHost++;
  }
  // each second copy lands on any of the 5 other devices (1 on the same host): none in 40 is ~1e-4
  assert.ok(sameHost > 0, "hosts are ignored: some files keep both copies on one host");
});

t("MultipleNetworks - copies span both zones before a second host of one zone", async ({ tc }) => {
  await tc.client.rpc("update_host", { host: "host1", zone: "a" });
  await tc.client.rpc("update_host", { host: "host2", zone: "a" });
  await tc.client.rpc("update_host", { host: "host3", zone: "b" });
  const hosts = (await tc.client.rpc("get_hosts", {})).hosts;
  assert.equal(hosts.filter((h) => /^host[123]$/.test(h.hostname)).map((h) => [h.hostname, h.zone]).sort(), [["host1", "a"], ["host2", "a"], ["host3", "b"]]);
  await tc.client.rpc("create_domain", { domain: "zones" });
  await tc.client.rpc("create_class", { domain: "zones", class: "z", mindevcount: 2, replpolicy: "MultipleNetworks()" });
  const host3 = new Set(tc.cluster.storage.find((s) => s.host === "host3")!.devids);
  const keys = Array.from({ length: 16 }, (_, i) => `z${i}`);
  await Promise.all(keys.map((k) => tc.client.put("zones", k, randomBytes(64), { class: "z" })));
  for (const k of keys) {
    const f = await until(async () => { const x = await info(tc, "zones", k); return x.devcount >= 2 && x; }, 60_000, `two copies of ${k}`);
    assert.is(f.devids!.filter((d) => host3.has(d)).length, 1, `${k}: exactly one copy in zone b (devices ${f.devids})`);
  }
  for (const h of ["host1", "host2", "host3"]) await tc.client.rpc("update_host", { host: h, zone: "none" });
  assert.is((await tc.client.rpc("get_hosts", {})).hosts.find((h) => h.hostname === "host1")!.zone, undefined, "zone=none clears it");
});

t("checksums - a SHA-256 class stores the digest storage computed; a wrong client checksum links nothing", async ({ tc }) => {
  await tc.client.rpc("create_domain", { domain: "sum" });
  await tc.client.rpc("create_class", { domain: "sum", class: "s256", mindevcount: 2, hashtype: "SHA-256" });
  const body = randomBytes(300_000); // above the small-body path: hashed while streaming
  await tc.client.put("sum", "big", body, { class: "s256" });
  const want = `SHA-256:${createHash("sha256").update(body).digest("hex")}`;
  assert.is((await info(tc, "sum", "big")).checksum, want, "stored without a client checksum");
  const small = Buffer.from("small body");
  await tc.client.put("sum", "small", small, { class: "s256" });
  assert.is((await info(tc, "sum", "small")).checksum, `SHA-256:${createHash("sha256").update(small).digest("hex")}`);
  // replicas pass the digest check on the destination
  await until(async () => (await info(tc, "sum", "big")).devcount >= 2, 60_000, "replica of big");

  // the PUT reports the digest when asked (x-mogile-hashtype), and create_close checks the client's
  const { open, digest } = await openAndPut(tc, "sum", "wrong", body, "s256");
  assert.is(digest, want);
  const bad = `SHA-256:${"0".repeat(64)}`;
  assert.is(await code(tc.client.rpc("create_close", { domain: "sum", key: "wrong", fid: open.fid, devid: open.devid, path: open.path, checksum: bad })), "checksum_mismatch");
  assert.is(await code(info(tc, "sum", "wrong")), "unknown_key", "nothing was linked");
  // a right one (even in upper case) is fine
  const ok = await openAndPut(tc, "sum", "right", body, "s256");
  await tc.client.rpc("create_close", { domain: "sum", key: "right", fid: ok.open.fid, devid: ok.open.devid, path: ok.open.path, checksum: want.toUpperCase().replace("SHA-256", "SHA-256") });
  assert.is((await info(tc, "sum", "right")).checksum, want);
  // an MD5 checksum on a SHA-256 class is checked too (and not stored)
  const md5 = await openAndPut(tc, "sum", "md5", small, "s256");
  assert.is(await code(tc.client.rpc("create_close", { domain: "sum", key: "md5", fid: md5.open.fid, devid: md5.open.devid, path: md5.open.path, checksum: `MD5:${"1".repeat(32)}` })), "checksum_mismatch");
});

t("checksums - a replica whose digest differs from the stored checksum is refused, and the job retried", async ({ tc }) => {
  await tc.client.rpc("create_domain", { domain: "rot" });
  await tc.client.rpc("create_class", { domain: "rot", class: "one", mindevcount: 1, hashtype: "MD5" });
  await tc.client.rpc("create_class", { domain: "rot", class: "two", mindevcount: 2, hashtype: "MD5" });
  const body = randomBytes(5000);
  const put = await tc.client.put("rot", "f", body, { class: "one" });
  // bit rot on the only copy: same length, different bytes
  const file = fileOnDisk(tc, put.devid, put.fid);
  const rotten = Buffer.from(body);
  rotten[100] ^= 0xff;
  writeFileSync(file, rotten);
  await tc.client.rpc("updateclass", { domain: "rot", key: "f", class: "two" });
  const logs = path.join(tc.dataDir, "logs");
  await until(() => readdirSync(logs).filter((f) => f.startsWith("replicator")).some((f) => {
    const text = readFileSync(path.join(logs, f), "utf8");
    return text.split("\n").some((l) => l.includes("digest mismatch") && new RegExp(`\\bfid=${put.fid}\\b`).test(l));
  }), 60_000, "the replicator to meet the digest mismatch");
  assert.is((await info(tc, "rot", "f")).devcount, 1, "the bad copy was not recorded");
  const others = tc.cluster.storage.flatMap((s) => s.devids).filter((d) => d !== put.devid);
  assert.ok(others.every((d) => !existsSync(fileOnDisk(tc, d, put.fid))), "and never stored under the fid's name");
  // repaired: the retried job now makes the copy
  writeFileSync(file, body);
  await until(async () => (await info(tc, "rot", "f")).devcount >= 2, 60_000, "the copy after the repair");
});

t("surplus - after a file moves to a class wanting fewer copies, one copy is dropped and deleted", async ({ tc }) => {
  await tc.client.rpc("create_domain", { domain: "many" });
  await tc.client.rpc("create_class", { domain: "many", class: "three", mindevcount: 3 });
  await tc.client.rpc("create_class", { domain: "many", class: "two", mindevcount: 2 });
  const put = await tc.client.put("many", "f", randomBytes(1000), { class: "three" });
  const three = await until(async () => { const x = await info(tc, "many", "f"); return x.devcount >= 3 && x; }, 60_000, "three copies");
  await tc.client.rpc("updateclass", { domain: "many", key: "f", class: "two" });
  const two = await until(async () => { const x = await info(tc, "many", "f"); return x.devcount === 2 && x; }, 60_000, "two copies");
  const host = await hostOf(tc);
  assert.is(new Set(two.devids!.map((d) => host.get(d))).size, 2, "the two left are on distinct hosts");
  const dropped = three.devids!.find((d) => !two.devids!.includes(d))!;
  await until(() => !existsSync(fileOnDisk(tc, dropped, put.fid)), 30_000, "the dropped copy deleted");
  for (const d of two.devids!) assert.ok(existsSync(fileOnDisk(tc, d, put.fid)), `copy on ${d} kept`);
});

t("durability - a durable class's create_close returns only once k copies exist", async ({ tc }) => {
  await tc.client.rpc("create_domain", { domain: "dur" });
  await tc.client.rpc("create_class", { domain: "dur", class: "k2", mindevcount: 2, durable_copies: 2 });
  const cls = (await tc.client.rpc("get_domains", {})).domains.find((d) => d.domain === "dur")!.classes.find((c) => c.class === "k2")!;
  assert.is(cls.durable_copies, 2);
  for (let i = 0; i < 5; i++) {
    await tc.client.put("dur", `f${i}`, randomBytes(2000), { class: "k2" });
    assert.ok((await info(tc, "dur", `f${i}`)).devcount >= 2, "two copies when create_close answered");
  }
  // per request: wait_replicated on a class that does not ask for it
  const { open } = await openAndPut(tc, "dur", "req", randomBytes(100));
  await tc.client.rpc("create_close", { domain: "dur", key: "req", fid: open.fid, devid: open.devid, path: open.path, wait_replicated: true });
  assert.ok((await info(tc, "dur", "req")).devcount >= 2);
});

t("durability - wait_replicated answers replication_timeout when only one host is up, with the file linked", async ({ tc }) => {
  await tc.client.rpc("create_domain", { domain: "lone" });
  for (const h of ["host2", "host3"]) await tc.client.rpc("update_host", { host: h, status: "down" });
  try {
    // the query actor's device view follows the change within moments
    await until(async () => {
      const open = await tc.client.rpc("create_open", { domain: "lone", key: "probe", multi_dest: true });
      const host1 = tc.cluster.storage.find((s) => s.host === "host1")!.devids;
      return open.dests.every((d) => host1.includes(d.devid));
    }, 20_000, "uploads only to host1");
    const body = randomBytes(500);
    const { open } = await openAndPut(tc, "lone", "f", body);
    assert.ok(tc.cluster.storage.find((s) => s.host === "host1")!.devids.includes(open.devid));
    const started = Date.now();
    const err = await tc.client.rpc("create_close", { domain: "lone", key: "f", fid: open.fid, devid: open.devid, path: open.path, wait_replicated: 2 }, 20_000).then(() => null, (e: unknown) => e);
    assert.instance(err, MogileError);
    assert.is((err as MogileError).code, "replication_timeout");
    assert.ok(Date.now() - started >= 4_500, "it waited the configured time");
    // the file IS linked and readable
    const f = await info(tc, "lone", "f");
    assert.is(f.length, 500);
  } finally {
    for (const h of ["host2", "host3"]) await tc.client.rpc("update_host", { host: h, status: "alive" });
  }
  // replication carries on once the hosts are back
  await until(async () => {
    const f = await info(tc, "lone", "f");
    const host = await hostOf(tc);
    return new Set(f.devids!.map((d) => host.get(d))).size >= 2;
  }, 90_000, "a copy on a second host");
});

t.run();
