// Chain replication (issue 9): a single PUT writes every copy the class wants, each fsynced before
// the answer; the storage node's signed receipt lets create_close record them all in one write,
// with no replicate job and no call back to the disks. Classic clients (no receipt) get the same
// copies, checked by create_close. A failed hop costs only the copies after it (the replicator
// makes them); a forged receipt is not believed; async_copies classes go back to ack-after-one.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until, readAll, tempDir } from "./helpers/until.ts";
import { httpRequest, readText } from "../protocol/http.ts";
import { streams } from "../protocol/subjects.ts";
import { clusterKey } from "../actors/runtime/secrets.ts";
import { signUrl } from "../actors/runtime/urlsign.ts";
import { formatChain, hopUrl as hopUrlOf, parseChain, signReceipt, verifyReceipt } from "../actors/runtime/chain.ts";
import { syncDir } from "../actors/storage/files.ts";

// ---- without servers ----

const u = suite("chain format");
const KEY = randomBytes(32);

u("chain format - a chain parses back; strays are refused", () => {
  const hops = [1, 2, 3].map((devid) => ({ devid, origin: `http://127.0.0.1:${7500 + devid}` }));
  assert.equal(parseChain(formatChain(hops)), hops);
  assert.is(parseChain("1@http://h:1/dev1"), null, "an origin has no path");
  assert.is(parseChain("0@http://h:1"), null);
  assert.is(parseChain("1@file:///etc"), null);
  assert.is(parseChain("x"), null);
});

u("chain format - a receipt verifies only for its fid and content, under the cluster key", () => {
  const r = signReceipt(KEY, 42, { devids: [3, 5], length: 4096, digest: "MD5:abc" });
  assert.equal(verifyReceipt(KEY, 42, r), { devids: [3, 5], length: 4096, digest: "MD5:abc" });
  assert.is(verifyReceipt(KEY, 43, r), null);
  assert.is(verifyReceipt(randomBytes(32), 42, r), null);
  assert.is(verifyReceipt(KEY, 42, r.replace("3,5", "3,6")), null);
  assert.is(verifyReceipt(KEY, 42, r.replace(";4096;", ";4095;")), null);
  assert.is(verifyReceipt(KEY, 42, "garbage"), null);
});

u("chain format - concurrent directory fsyncs share their runs, and all resolve; a missing directory rejects", async () => {
  const dir = tempDir("dirsync");
  mkdirSync(path.join(dir, "d"));
  await Promise.all(Array.from({ length: 50 }, () => syncDir(path.join(dir, "d"))));
  let failed = 0;
  await Promise.all(Array.from({ length: 5 }, () => syncDir(path.join(dir, "gone")).catch(() => failed++)));
  assert.is(failed, 5);
  rmSync(dir, { recursive: true, force: true });
});

u.run();

// ---- on a cluster ----

const t = suite<{ tc: TestCluster; key: Buffer }>("chain");
const D = "chain";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

t.before(async (ctx) => {
  ctx.tc = await startTestCluster("chain");
  ctx.key = clusterKey({ MOGILE_CLUSTER_KEY_FILE: ctx.tc.cluster.env.MOGILE_CLUSTER_KEY_FILE });
  await ctx.tc.client.createDomain(D);
  await ctx.tc.client.createClass(D, "two", 2);
  await ctx.tc.client.createClass(D, "three", 3);
  await ctx.tc.client.rpc("create_class", { domain: D, class: "async", mindevcount: 2, async_copies: 1 });
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const hostsOf = (tc: TestCluster, devids: number[]) => new Set(devids.map((d) => tc.cluster.storage.find((s) => s.devids.includes(d))!.host)).size;
const replicateSeq = async (tc: TestCluster) => (await (await jetstreamManager(tc.client.nc)).streams.info(streams.replicate)).state.last_seq;

/** every path get_paths names answers with `body` */
async function allCopies(tc: TestCluster, key: string, body: Buffer): Promise<number> {
  const { paths } = await tc.client.getPaths(D, key, { noverify: true, pathcount: 10 });
  for (const p of paths) {
    const res = await httpRequest(p, { method: "GET", timeoutMs: 10_000 });
    const got = await readAll(res);
    assert.is(res.statusCode, 200, p);
    assert.is(md5(got), md5(body), `${p} holds the file's bytes`);
  }
  return paths.length;
}

t("chain - an SDK put of a two- and a three-copy file returns with every copy recorded, on distinct hosts, and queues no replication", async ({ tc }) => {
  const before = await replicateSeq(tc);
  for (const [cls, n] of [["two", 2], ["three", 3]] as const) {
    for (const size of [4096, 3 * 1024 * 1024]) {
      const body = randomBytes(size);
      const key = `sdk-${cls}-${size}`;
      await tc.client.put(D, key, body, { class: cls });
      const info = await tc.client.fileInfo(D, key);
      assert.is(info.devids!.length, n, `${key}: ${n} copies at the ack`);
      assert.is(hostsOf(tc, info.devids!), n);
      assert.is(await allCopies(tc, key, body), n);
    }
  }
  assert.is(await replicateSeq(tc), before, "no replicate job queued");
});

t("chain - a classic client's single PUT (no receipt) yields every copy, checked and recorded at create_close", async ({ tc }) => {
  const body = randomBytes(5000);
  const open = await tc.client.rpc("create_open", { domain: D, key: "classic", class: "two" });
  assert.is(open.dev_count, 1, "without multi_dest one destination is told");
  assert.match(open.path, /[?&]c=/, "its path names the chain");
  const res = await httpRequest(open.path, { method: "PUT", body, timeoutMs: 10_000 });
  assert.is(res.statusCode, 201, await readText(res));
  assert.is(String(res.headers["x-mogile-copies"]).split(",").length, 2);
  await tc.client.rpc("create_close", { domain: D, key: "classic", fid: open.fid, devid: open.devid, path: open.path, size: body.length });
  const info = await tc.client.fileInfo(D, "classic");
  assert.is(info.devids!.length, 2);
  assert.is(hostsOf(tc, info.devids!), 2);
  assert.is(await allCopies(tc, "classic", body), 2);
});

t("chain - a forged receipt is not believed: create_close records only copies it checked", async ({ tc }) => {
  const body = randomBytes(3000);
  const open = await tc.client.rpc("create_open", { domain: D, key: "forged", class: "async", multi_dest: true });
  assert.not.match(open.path, /[?&]c=/, "an async_copies class gets no chain");
  const res = await httpRequest(open.path, { method: "PUT", body, timeoutMs: 10_000 });
  await readText(res);
  assert.is(res.statusCode, 201);
  const other = open.dests.find((d) => d.devid !== open.devid)!.devid;
  const forged = signReceipt(randomBytes(32), open.fid, { devids: [open.devid, other], length: body.length });
  await tc.client.rpc("create_close", { domain: D, key: "forged", fid: open.fid, devid: open.devid, path: open.path, size: body.length, receipt: forged });
  // the replicator brings it to policy later; the ack recorded only the checked copy (or the replicator's, if already there)
  const info = await until(async () => { const i = await tc.client.fileInfo(D, "forged"); return i.devids!.length >= 2 && i; }, 30_000, "forged: replicated to 2");
  assert.is(await allCopies(tc, "forged", body), info.devids!.length);
});

t("chain - an async_copies class is acknowledged after one copy, and the replicator makes the second", async ({ tc }) => {
  const before = await replicateSeq(tc);
  const body = randomBytes(4096);
  await tc.client.put(D, "async", body, { class: "async" });
  assert.ok((await replicateSeq(tc)) > before, "a replicate job was queued");
  await until(async () => (await tc.client.fileInfo(D, "async")).devids!.length === 2, 30_000, "async: 2 copies");
  assert.is(await allCopies(tc, "async", body), 2);
});

t("chain - a hop that cannot be reached costs only its copy: the PUT succeeds with the local one and the replicator makes the rest", async ({ tc, key }) => {
  for (const size of [4096, 2 * 1024 * 1024]) {
  const name = `broken-hop-${size}`;
  const body = randomBytes(size);
  const open = await tc.client.rpc("create_open", { domain: D, key: name, class: "two", multi_dest: true, size: body.length });
  const dest = open.dests[0];
  const other = open.dests.find((d) => d.devid !== dest.devid)!.devid;
  // the same grant, but the chain points at a port nothing listens on
  const base = dest.path.split("?")[0];
  const url = signUrl(key, base, {
    method: "PUT", devid: dest.devid, fid: open.fid, expires: Math.floor(Date.now() / 1000) + 60, maxLength: body.length, chain: formatChain([{ devid: other, origin: "http://127.0.0.1:9" }]),
  });
  const res = await httpRequest(url, { method: "PUT", body, timeoutMs: 20_000 });
  await readText(res);
  assert.is(res.statusCode, 201);
  assert.is(res.headers["x-mogile-copies"], String(dest.devid), "only the local copy");
  await tc.client.rpc("create_close", { domain: D, key: name, fid: open.fid, devid: dest.devid, path: open.path, size: body.length, receipt: String(res.headers["x-mogile-receipt"]) });
  assert.equal((await tc.client.fileInfo(D, name)).devids, [dest.devid], "the receipt's copy recorded");
  await until(async () => (await tc.client.fileInfo(D, name)).devids!.length === 2, 30_000, `${name} replicated to 2`);
  assert.is(await allCopies(tc, name, body), 2);
  }
});

t("chain - a hop that refuses (the fid is there already) leaves the local copy only, and removes nothing it did not write", async ({ tc, key }) => {
  const body = randomBytes(2048);
  const open = await tc.client.rpc("create_open", { domain: D, key: "taken-hop", class: "two", size: body.length });
  const [hop] = parseChain(new URL(open.path).searchParams.get("c")!)!;
  // the chain's next device holds the fid already
  const there = hopUrlOf(hop, open.fid);
  const own = await httpRequest(signUrl(key, there, { method: "PUT", devid: hop.devid, fid: open.fid, expires: Math.floor(Date.now() / 1000) + 60 }), { method: "PUT", body, timeoutMs: 10_000 });
  await readText(own);
  assert.is(own.statusCode, 201);
  const res = await httpRequest(open.path, { method: "PUT", body, timeoutMs: 10_000 });
  await readText(res);
  assert.is(res.statusCode, 201);
  assert.is(res.headers["x-mogile-copies"], String(open.devid), "the refusing hop's copy is not counted");
  const held = await httpRequest(there, { method: "HEAD", timeoutMs: 5_000 });
  held.resume();
  assert.is(held.statusCode, 200, "the copy the hop held stays");
});

t("chain - a PUT whose local write fails answers the error at once and leaves no copy down the chain (buffered and streamed bodies)", async ({ tc }) => {
  for (const size of [3000, 2 * 1024 * 1024]) {
  const body = randomBytes(size);
  const open = await tc.client.rpc("create_open", { domain: D, key: `local-fails-${size}`, class: "two", size: body.length });
  const [hop] = parseChain(new URL(open.path).searchParams.get("c")!)!;
  // the entry device cannot take the file: a plain file sits where its fid directory goes
  const entry = tc.cluster.storage.find((s) => s.devids.includes(open.devid))!;
  const dir = path.dirname(path.join(entry.root, new URL(open.path).pathname));
  const aside = `${dir}.aside`;
  const had = existsSync(dir);
  if (had) renameSync(dir, aside);
  else mkdirSync(path.dirname(dir), { recursive: true });
  writeFileSync(dir, "in the way");
  try {
    const res = await httpRequest(open.path, { method: "PUT", body, timeoutMs: 10_000 });
    const text = await readText(res);
    assert.ok(res.statusCode! >= 500, `PUT answered ${res.statusCode} ${text}`);
    // the failure is answered only once the copy made down the chain is gone again
    const head = await httpRequest(hopUrlOf(hop, open.fid), { method: "HEAD", timeoutMs: 5_000 });
    head.resume();
    assert.is(head.statusCode, 404, "no copy left down the chain");
  } finally {
    rmSync(dir, { force: true });
    if (had) renameSync(aside, dir);
  }
  }
});

t.run();
