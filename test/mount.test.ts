// Mount check (Swift's mount_check): a device whose directory or `.mogile-device` marker is missing
// is neither written nor read, its agent never recreates it, and it is usable again once the
// marker is back.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { tempDir, until } from "./helpers/until.ts";
import { checkMount, initDevice, MountTable, MOUNT_MARKER } from "../actors/storage/mount.ts";
import { fileStore } from "../actors/storage/files.ts";
import { createFileServer } from "../actors/storage/server.ts";
import { observe } from "../actors/monitor/index.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { fidPath } from "../protocol/paths.ts";
import { httpRequest, drain } from "../protocol/http.ts";
import { signQuery } from "../actors/runtime/urlsign.ts";

// ---- without servers ----

const u = suite("mount check");

u("mount - observe() calls a heartbeating device without its marker unmounted, a silent one unreachable", () => {
  assert.is(observe(1000, false, 1500, 5000, true, false), "unmounted");
  assert.is(observe(1000, false, 7001, 5000, true, false), "unreachable");
  assert.is(observe(1000, true, 1500, 5000, true, true), "writeable");
});

u("mount - a device is mounted only when its directory holds its own marker", async () => {
  const root = tempDir("mount-unit");
  try {
    assert.match((await checkMount(root, 1)).reason!, /missing/);
    mkdirSync(path.join(root, "dev1"));
    assert.match((await checkMount(root, 1)).reason!, /no \.mogile-device marker/);
    assert.is(await initDevice(root, 2).catch(() => "refused"), "refused", "init needs the mount point unless asked to create it");
    assert.is(await initDevice(root, 1), true);
    assert.is(await initDevice(root, 1), false, "a second init is a no-op");
    assert.equal(await checkMount(root, 1), { mounted: true });
    // disks swapped between mount points: dev2's directory holds dev1's marker
    mkdirSync(path.join(root, "dev2"));
    renameSync(path.join(root, "dev1", MOUNT_MARKER), path.join(root, "dev2", MOUNT_MARKER));
    assert.match((await checkMount(root, 2)).reason!, /marker of dev1/);
    try { await initDevice(root, 2); assert.unreachable("init over another device's marker"); } catch (err) { assert.match((err as Error).message, /dev1/); }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

u("mount - the file server answers 503 for a missing device and never creates its directory", async () => {
  const root = tempDir("mount-server");
  const mounts = new MountTable(root, new Set([1]), 1);
  const key = randomBytes(32);
  const server = createFileServer(fileStore(root, [1], mounts), createLogger({ role: "test" }, "error"), { key });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // fid URLs are signed as the cluster signs them (PUT and DELETE need it)
  const signed = (method: "GET" | "PUT" | "DELETE", uri: string) =>
    uri.endsWith(".fid") ? `${uri}?${signQuery(key, { method, devid: 1, fid: 42, expires: Date.now() / 1000 + 60 })}` : uri;
  const status = async (method: "GET" | "PUT" | "DELETE", uri: string, body?: Buffer) => {
    const res = await httpRequest(base + signed(method, uri), { method, body, timeoutMs: 5_000 });
    await drain(res);
    return res.statusCode;
  };
  try {
    const uri = fidPath(1, 42);
    assert.is(await status("PUT", uri, Buffer.from("x")), 503);
    assert.is(await status("GET", uri), 503);
    assert.is(await status("DELETE", uri), 503);
    assert.is(await status("PUT", "/dev1/test-write/test-write-1", Buffer.from("probe")), 503);
    assert.not.ok(existsSync(path.join(root, "dev1")), "no device directory made");
    // an empty mount point (the disk is not mounted there) is not written either
    mkdirSync(path.join(root, "dev1"));
    await new Promise((r) => setTimeout(r, 5));
    assert.is(await status("PUT", uri, Buffer.from("x")), 503);
    assert.equal(readdirSync(path.join(root, "dev1")), [], "the mount point stays empty");
    await initDevice(root, 1);
    await new Promise((r) => setTimeout(r, 5));
    assert.is(await status("PUT", uri, Buffer.from("x")), 201);
    assert.is(await status("GET", uri), 200);
  } finally {
    await new Promise((r) => server.close(r));
    rmSync(root, { recursive: true, force: true });
  }
});

u.run();

// ---- a real cluster ----

const t = suite<{ tc: TestCluster }>("mount: cluster");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("mount");
  await ctx.tc.client.createDomain("mt");
  await ctx.tc.client.createClass("mt", "three", 3);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const observed = async (tc: TestCluster, devid: number) => (await tc.client.rpc("get_devices", { devid })).devices[0]?.observed_state;

t("mount - a device whose directory or marker goes away is unmounted: no new files, not read, not recreated; back once the marker is", async ({ tc }) => {
  const victim = 3;
  const host = tc.cluster.storage.find((s) => s.devids.includes(victim))!;
  const dir = path.join(host.root, `dev${victim}`);
  // one copy per host: about half the files have theirs on the victim
  const keys = Array.from({ length: 12 }, (_, i) => `f${i}`);
  for (const k of keys) await tc.client.put("mt", k, randomBytes(1000), { class: "three" });
  const infos = await Promise.all(keys.map((k) => until(async () => { const i = await tc.client.fileInfo("mt", k); return i.devcount === 3 && i; }, 30_000, `3 copies of ${k}`)));
  const onVictim = keys.filter((_, i) => infos[i].devids!.includes(victim));
  assert.ok(onVictim.length > 0, "some file has a copy on the victim");
  const paths = async (k: string) => (await tc.client.getPaths("mt", k, { pathcount: 10 })).paths;

  renameSync(dir, dir + ".away");
  try {
    const t0 = Date.now();
    await until(async () => (await observed(tc, victim)) === "unmounted", 10_000, `dev${victim} unmounted`);
    const tookMs = Date.now() - t0;
    for (let i = 0; i < 30; i++) {
      const open = await tc.client.rpc("create_open", { domain: "mt", key: `new${i}`, multi_dest: true });
      assert.not.ok(open.dests.some((d) => d.devid === victim), "never offered for writes");
    }
    for (const k of onVictim) {
      const p = await paths(k);
      assert.ok(p.length >= 2, "the other copies are still returned");
      assert.not.ok(p.some((u) => u.includes(`/dev${victim}/`)), "get_paths skips the unmounted device");
    }
    const fid = infos[keys.indexOf(onVictim[0])].fid;
    const res = await httpRequest(`${host.url}${fidPath(victim, fid)}`, { method: "GET", timeoutMs: 5_000 });
    await drain(res);
    assert.is(res.statusCode, 503, "the agent refuses reads");
    assert.not.ok(existsSync(dir), "the agent did not recreate the device directory");
    console.log(`  dev${victim} seen unmounted ${tookMs} ms after its directory went away`);

    // the disk comes back without its marker (say, a fresh filesystem): still unmounted
    renameSync(dir + ".away", dir);
    renameSync(path.join(dir, MOUNT_MARKER), path.join(dir, MOUNT_MARKER + ".away"));
    await new Promise((r) => setTimeout(r, 3_000)); // a few heartbeats: the state must not flip back
    assert.is(await observed(tc, victim), "unmounted", "no marker, no use");
    renameSync(path.join(dir, MOUNT_MARKER + ".away"), path.join(dir, MOUNT_MARKER));
  } finally {
    if (existsSync(dir + ".away")) { rmSync(dir, { recursive: true, force: true }); renameSync(dir + ".away", dir); }
    if (existsSync(path.join(dir, MOUNT_MARKER + ".away"))) renameSync(path.join(dir, MOUNT_MARKER + ".away"), path.join(dir, MOUNT_MARKER));
  }
  await until(async () => (await observed(tc, victim)) === "writeable", 20_000, `dev${victim} writeable again`);
  await until(async () => (await paths(onVictim[0])).some((u) => u.includes(`/dev${victim}/`)), 10_000, "read from again");
});

t("mount - a storage agent started with a device that was never added does not create it", async ({ tc }) => {
  const devid = 99;
  const host = await tc.cluster.startStorage("host9", [devid]);
  const dir = path.join(host.root, `dev${devid}`);
  await until(async () => (await observed(tc, devid)) === "unmounted", 15_000, `dev${devid} registered and unmounted`);
  assert.not.ok(existsSync(dir), "no directory made at start");
  const open = await tc.client.rpc("create_open", { domain: "mt", key: "n99", multi_dest: true });
  assert.not.ok(open.dests.some((d) => d.devid === devid));
  // adding it on disk (the launcher's step, or `mogile device init`) makes it usable
  await tc.cluster.addDevices("host9", [devid]);
  await until(async () => (await observed(tc, devid)) === "writeable", 15_000, `dev${devid} writeable once added`);
});

t.run();
