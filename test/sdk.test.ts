// Integration: the SDK's typed admin methods, putFile with failover, and listAll paging.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import http from "node:http";
import { randomBytes } from "node:crypto";
import { createReadStream, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { tempDir, until, readAll } from "./helpers/until.ts";
import { MogileError, type MogileClient } from "../protocol/index.ts";

const t = suite<{ tc: TestCluster; dir: string }>("sdk");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("sdk");
  ctx.dir = tempDir("sdk-files");
  await ctx.tc.client.createDomain("sdk");
});
t.after(async (ctx) => {
  await ctx.tc?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };

/** Wraps client.rpc for one test: `edit` may rewrite a command's reply; every command name is recorded. */
function spyRpc(client: MogileClient, edit: (command: string, reply: any) => any = (_c, r) => r) {
  const original = client.rpc;
  const calls: string[] = [];
  client.rpc = (async (command: any, args: any, timeoutMs?: number) => {
    calls.push(command);
    return edit(command, await original.call(client, command, args, timeoutMs));
  }) as typeof client.rpc;
  return { calls, restore: () => { client.rpc = original; } };
}

/** A storage imposter that takes some of an upload, then drops the connection. */
async function dropsMidBody(after: number): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const server = http.createServer((req) => {
    req.on("data", (c: Buffer) => {
      received += c.length;
      if (received >= after) req.socket.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/dev1/0/000/000/0000000001.fid`,
    received: () => received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

t("sdk - putFile stores a file from disk with its size and reads back identical", async ({ tc, dir }) => {
  const file = path.join(dir, "photo.bin");
  const body = randomBytes(700_000);
  writeFileSync(file, body);
  const put = await tc.client.putFile("sdk", "disk/photo.bin", file);
  assert.is(put.length, body.length);
  const got = await tc.client.get("sdk", "disk/photo.bin");
  assert.ok((await readAll(got.body)).equals(body));
  assert.is(await code(tc.client.putFile("sdk", "disk/dir", dir)), "bad_request");
  assert.is(await code(tc.client.putFile("nodomain", "k", file)), "unreg_domain");
});

t("sdk - putFile fails over to the next device when the first drops the upload mid-body", async ({ tc, dir }) => {
  const file = path.join(dir, "big.bin");
  const body = randomBytes(2_000_000);
  writeFileSync(file, body);
  const flaky = await dropsMidBody(256 * 1024);
  let firstDevid = 0;
  const spy = spyRpc(tc.client, (command, reply) => {
    if (command !== "create_open") return reply;
    firstDevid = reply.dests[0].devid;
    // the first candidate device becomes the imposter; the others stay real
    return { ...reply, dests: [{ devid: firstDevid, path: flaky.url }, ...reply.dests.slice(1)] };
  });
  try {
    const put = await tc.client.putFile("sdk", "disk/big.bin", file);
    assert.ok(flaky.received() >= 256 * 1024, "the first attempt sent part of the body");
    assert.is.not(put.devid, firstDevid, "stored on the second candidate");
    assert.is(put.length, body.length);
  } finally {
    spy.restore();
    await flaky.close();
  }
  const got = await tc.client.get("sdk", "disk/big.bin");
  assert.ok((await readAll(got.body)).equals(body), "the retry sent the whole file again");
});

t("sdk - put from a stream does not retry once the stream is partly consumed", async ({ tc, dir }) => {
  const file = path.join(dir, "stream.bin");
  writeFileSync(file, randomBytes(2_000_000));
  const flaky = await dropsMidBody(256 * 1024);
  const spy = spyRpc(tc.client, (command, reply) =>
    command === "create_open" ? { ...reply, dests: [{ devid: reply.dests[0].devid, path: flaky.url }, ...reply.dests.slice(1)] } : reply);
  try {
    assert.is(await code(tc.client.put("sdk", "stream.bin", createReadStream(file), { size: 2_000_000 })), "upload_failed");
    assert.not.ok(spy.calls.includes("create_close"));
  } finally {
    spy.restore();
    await flaky.close();
  }
  assert.is(await code(tc.client.fileInfo("sdk", "stream.bin")), "unknown_key");
});

t("sdk - listAll pages through every key under a prefix in order", async ({ tc }) => {
  const keys = Array.from({ length: 7 }, (_, i) => `page/${String(i).padStart(2, "0")}`);
  await Promise.all([...keys, "other/x"].map((k) => tc.client.put("sdk", k, k)));
  const spy = spyRpc(tc.client);
  const seen: string[] = [];
  try {
    for await (const k of tc.client.listAll("sdk", { prefix: "page/", pageSize: 2 })) seen.push(k);
  } finally {
    spy.restore();
  }
  assert.equal(seen, keys);
  assert.ok(spy.calls.filter((c) => c === "list_keys").length >= 4, "4 pages of at most 2");
  const none: string[] = [];
  for await (const k of tc.client.listAll("sdk", { prefix: "nothing/" })) none.push(k);
  assert.equal(none, []);
  const all: string[] = [];
  for await (const k of tc.client.listAll("sdk")) all.push(k);
  assert.ok(keys.every((k) => all.includes(k)) && all.includes("other/x"));
});

t("sdk - domain and class admin methods", async ({ tc }) => {
  const c = tc.client;
  assert.equal(await c.createDomain("adm"), { domain: "adm" });
  assert.is(await code(c.createDomain("adm")), "domain_exists");
  assert.equal(await c.createClass("adm", "x", 1, { hashtype: "MD5" }), { domain: "adm", class: "x", mindevcount: 1 });
  assert.equal(await c.updateClass("adm", "x", 2, { replpolicy: "MultipleDevices(2)" }), { domain: "adm", class: "x", mindevcount: 2 });
  assert.is(await code(c.updateClass("adm", "nope", 2)), "class_not_found");
  const adm = (await c.getDomains()).find((d) => d.domain === "adm")!;
  assert.equal(adm.classes.find((k) => k.class === "x"), { class: "x", mindevcount: 2, replpolicy: "MultipleDevices(2)", hashtype: "MD5" });
  assert.is(await code(c.deleteDomain("adm")), "domain_has_classes");
  assert.equal(await c.deleteClass("adm", "x"), { domain: "adm", class: "x" });
  assert.equal(await c.deleteDomain("adm"), { domain: "adm" });
  assert.is(await code(c.deleteDomain("adm")), "domain_not_found");
});

t("sdk - host and device admin methods", async ({ tc }) => {
  const c = tc.client;
  const h = await c.createHost("sdkhost", { ip: "127.0.0.66", port: 7590 });
  assert.is(h.hostname, "sdkhost");
  assert.is(await code(c.createHost("sdkhost", { ip: "127.0.0.66", port: 7590 })), "host_exists");
  assert.equal(await c.updateHost("sdkhost", { status: "down", getport: 7591 }), { hostid: h.hostid, hostname: "sdkhost" });
  const [host] = await c.getHosts(h.hostid);
  assert.is(host.http_get_port, 7591);
  assert.ok((await c.getHosts()).length >= 4);

  assert.equal(await c.createDevice(70, { hostname: "sdkhost", state: "down" }), { devid: 70, hostid: h.hostid });
  assert.equal(await c.createDevice(71, { hostid: h.hostid }), { devid: 71, hostid: h.hostid });
  assert.is(await code(c.createDevice(70, { hostname: "sdkhost" })), "existing_devid");
  await c.setWeight("sdkhost", 70, 5);
  await c.setState("sdkhost", 70, "readonly");
  const [dev] = await c.getDevices(70);
  assert.is(dev.weight, 5);
  assert.is(dev.status, "readonly");
  assert.is(await code(c.setState("host1", 70, "down")), "host_mismatch");
  assert.is(await code(c.setWeight("sdkhost", 999, 1)), "no_device");
  assert.is(await code(c.deleteHost("sdkhost")), "host_not_empty");
  await c.setState("sdkhost", 71, "dead");

  await c.createHost("sdkempty", { ip: "127.0.0.67", port: 7592 });
  assert.equal(await c.deleteHost("sdkempty"), {});
  assert.is(await code(c.deleteHost("sdkempty")), "unknown_host");
});

t("sdk - file methods: fileInfo, fileDebug, rename, changeClass, listFids", async ({ tc }) => {
  const c = tc.client;
  await c.createClass("sdk", "solo", 1);
  await c.createClass("sdk", "pair", 2);
  const put = await c.put("sdk", "f/one", "hello", { class: "solo" });
  const info = await c.fileInfo("sdk", "f/one");
  assert.is(info.fid, put.fid);
  assert.equal(info.devids, [put.devid]);
  const dbg = await c.fileDebug({ fid: put.fid });
  assert.is(dbg.key, "f/one");
  assert.is((await c.fileDebug({ domain: "sdk", key: "f/one" })).fid, put.fid);

  await c.rename("sdk", "f/one", "f/two");
  assert.is(await code(c.fileInfo("sdk", "f/one")), "unknown_key");
  await c.put("sdk", "f/three", "x", { class: "solo" });
  assert.is(await code(c.rename("sdk", "f/two", "f/three")), "key_exists");

  await c.changeClass("sdk", "f/two", "pair");
  await until(async () => (await c.fileInfo("sdk", "f/two")).devcount === 2, 20_000, "2 copies after changeClass");
  assert.is(await code(c.changeClass("sdk", "f/two", "nope")), "class_not_found");

  const fids = await c.listFids(put.fid - 1, 1);
  assert.equal(fids.map((f) => [f.fid, f.key, f.class]), [[put.fid, "f/two", "pair"]]);
});

t("sdk - control methods: noop, replicateNow, settings, stats, failedJobs", async ({ tc }) => {
  const c = tc.client;
  assert.equal(await c.noop(), {});
  assert.type(await c.replicateNow(), "number");
  await c.setServerSetting("memcache_ttl", "15");
  assert.is(await c.serverSetting("memcache_ttl"), "15");
  assert.is((await c.serverSettings()).memcache_ttl, "15");
  const s = await c.stats();
  assert.ok(s.domains >= 1 && s.files >= 1 && s.devices >= 6);
  assert.ok(Array.isArray(await c.failedJobs({ kind: "delete", limit: 5 })));
});

t.run();
