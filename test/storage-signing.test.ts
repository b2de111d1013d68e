// Signed storage URLs: PUT and DELETE need the cluster's signature, a PUT stores at most what its URL
// allows and never replaces a fid, files of signed_get domains (and their replicas) are read only
// through signed URLs, and the storage HTTP server closes slow or oversized requests.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { tempDir, until, readAll } from "./helpers/until.ts";
import { signQuery, signUrl, verifyQuery, type SignedGrant } from "../actors/runtime/urlsign.ts";
import { clusterKey } from "../actors/runtime/secrets.ts";
import { fileStore, StorageError } from "../actors/storage/files.ts";
import { initDevice, MountTable } from "../actors/storage/mount.ts";
import { fidPath } from "../protocol/paths.ts";
import { httpRequest, readText } from "../protocol/http.ts";
import { MogileError } from "../protocol/index.ts";

// ---- without servers ----

const u = suite("urlsign");
const KEY = randomBytes(32);
const NOW = 1_800_000_000;
const put: SignedGrant = { method: "PUT", devid: 7, fid: 123, expires: NOW + 60, maxLength: 1000, protect: true };
const q = (s: string) => new URLSearchParams(s);

u("urlsign - a grant verifies for its method, device and fid, with its max length and flag", () => {
  const query = signQuery(KEY, put);
  assert.match(query, /^e=1800000060&l=1000&p=1&s=[\w-]{43}$/);
  assert.equal(verifyQuery(KEY, "PUT", 7, 123, q(query), NOW), { ok: true, protect: true, maxLength: 1000 });
  const get = signQuery(KEY, { method: "GET", devid: 7, fid: 123, expires: NOW + 60 });
  assert.match(get, /^e=1800000060&s=[\w-]{43}$/);
  assert.equal(verifyQuery(KEY, "GET", 7, 123, q(get), NOW), { ok: true, protect: false });
  assert.equal(verifyQuery(KEY, "HEAD", 7, 123, q(get), NOW), { ok: true, protect: false }, "HEAD is checked as GET");
});

u("urlsign - another method, device, fid, key or any changed field is refused; so is an expired grant", () => {
  const query = signQuery(KEY, put);
  const no = (r: ReturnType<typeof verifyQuery>) => (r.ok ? "ok" : r.reason);
  assert.is(no(verifyQuery(KEY, "DELETE", 7, 123, q(query), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "GET", 7, 123, q(query), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 8, 123, q(query), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 124, q(query), NOW)), "signature does not match");
  assert.is(no(verifyQuery(randomBytes(32), "PUT", 7, 123, q(query), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query.replace("l=1000", "l=9999")), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query.replace("e=1800000060", "e=1900000000")), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query.replace("&p=1", "")), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query.slice(0, -2) + "AA"), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query + "x"), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query), NOW + 61)), "signature expired");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q(query.replace("l=1000", "l=-1")), NOW)), "malformed signature fields");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q("e=1&s="), NOW)), "signature does not match");
  assert.is(no(verifyQuery(KEY, "PUT", 7, 123, q("e=1"), NOW)), "unsigned");
});

u("urlsign - signUrl appends to a query string already there", () => {
  const base = `http://h:1${fidPath(7, 123)}`;
  assert.ok(signUrl(KEY, base, put).startsWith(`${base}?e=`));
  const withQuery = signUrl(KEY, `${base}?digest=MD5`, put);
  assert.ok(withQuery.startsWith(`${base}?digest=MD5&e=`));
  assert.is(verifyQuery(KEY, "PUT", 7, 123, new URL(withQuery).searchParams, NOW).ok, true);
});

u("storage files - two PUTs of one fid racing: link() lets exactly one in, the other is a 409", async () => {
  const root = tempDir("sign-unit");
  try {
    await initDevice(root, 1, { create: true });
    const fs = fileStore(root, [1], new MountTable(root, new Set([1]), 1_000));
    const file = path.join(root, fidPath(1, 5));
    const bodies = [randomBytes(300_000), randomBytes(300_000)];
    // streams, no declared length: both are still writing their temp files when the other links
    const results = await Promise.allSettled(bodies.map((b) => fs.writeDurably(file, Readable.from([b.subarray(0, 1000), b.subarray(1000)]))));
    const won = results.findIndex((r) => r.status === "fulfilled");
    assert.ok(won >= 0, "one PUT stored");
    const lost = results[1 - won];
    assert.is(lost.status, "rejected");
    assert.is(((lost as PromiseRejectedResult).reason as StorageError).status, 409);
    assert.ok(readFileSync(file).equals(bodies[won]), "the stored bytes are the winner's, whole");
    assert.is(statSync(file).mode & 0o777, 0o644);
    // a cluster pull may replace it (its own verified copy) and keeps the protected mark it is given
    await fs.writeDurably(file, Readable.from([bodies[1 - won]]), bodies[1 - won].length, undefined, { replace: true, protect: true });
    assert.ok(readFileSync(file).equals(bodies[1 - won]));
    assert.is(statSync(file).mode & 0o777, 0o640);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

u("storage files - the mode says public or protected whatever the umask (created with it; chmod under a strict umask)", async () => {
  const root = tempDir("sign-umask");
  const before = process.umask(0o077);
  try {
    await initDevice(root, 1, { create: true });
    const fs = fileStore(root, [1], new MountTable(root, new Set([1]), 1_000));
    for (const [fid, protect, body] of [[6, false, randomBytes(100)], [7, true, randomBytes(100)], [8, false, randomBytes(300_000)], [9, true, randomBytes(300_000)]] as const) {
      const file = path.join(root, fidPath(1, fid));
      // small bodies as a buffer, large ones streamed: the two write paths
      await fs.writeDurably(file, body.length > 1000 ? Readable.from([body]) : body, undefined, undefined, { protect });
      assert.is(statSync(file).mode & 0o777, protect ? 0o640 : 0o644, `fid ${fid} (${protect ? "protected" : "public"}) under umask 077`);
    }
  } finally {
    process.umask(before);
    rmSync(root, { recursive: true, force: true });
  }
});

u.run();

// ---- against a real cluster ----

const HEADERS_TIMEOUT_MS = 1_000;
const IDLE_TIMEOUT_MS = 2_000;
const MAX_FILE = 1024 * 1024;

const t = suite<{ tc: TestCluster; key: Buffer }>("storage signing");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("storage-signing", {
    env: {
      MOGILE_STORAGE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      MOGILE_STORAGE_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      MOGILE_STORAGE_MAX_HEADER_BYTES: "4096",
      MOGILE_MAX_FILE_BYTES: String(MAX_FILE),
    },
  });
  ctx.key = clusterKey({ MOGILE_CLUSTER_KEY_FILE: ctx.tc.cluster.env.MOGILE_CLUSTER_KEY_FILE });
  await ctx.tc.client.createDomain("sig");
  await ctx.tc.client.createClass("sig", "one", 1);
  await ctx.tc.client.createDomain("priv");
  await ctx.tc.client.createClass("priv", "two", 2);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };
const plain = (url: string) => url.split("?")[0];
const fileOf = (tc: TestCluster, devid: number, fid: number) =>
  path.join(tc.cluster.storage.find((s) => s.devids.includes(devid))!.root, fidPath(devid, fid));

async function request(url: string, method: "GET" | "PUT" | "HEAD" | "DELETE", body?: Buffer | Readable, headers?: Record<string, string | number>) {
  const res = await httpRequest(url, { method, body, headers, timeoutMs: 10_000 });
  const text = method === "HEAD" ? (res.resume(), "") : await readText(res);
  return { status: res.statusCode, text, headers: res.headers };
}

t("storage - a PUT without a signature, expired, tampered or for another device is a 403; nothing is stored", async ({ tc, key }) => {
  const open = await tc.client.rpc("create_open", { domain: "sig", key: "refused", class: "one", size: 100 });
  const body = randomBytes(100);
  const file = fileOf(tc, open.devid, open.fid);
  assert.match(new URL(open.path).search, /^\?e=\d+&l=100&s=[\w-]{43}$/);

  const unsigned = await request(plain(open.path), "PUT", body);
  assert.is(unsigned.status, 403);
  assert.match(unsigned.text, /PUT needs a signed URL/);
  const expired = await request(signUrl(key, plain(open.path), { method: "PUT", devid: open.devid, fid: open.fid, expires: Date.now() / 1000 - 5, maxLength: 100 }), "PUT", body);
  assert.is(expired.status, 403);
  assert.match(expired.text, /expired/);
  const longer = await request(open.path.replace("l=100", "l=100000"), "PUT", body);
  assert.is(longer.status, 403);
  assert.match(longer.text, /signature does not match/);
  // another device of the same node (a node answers 404 for devices it does not have)
  const other = tc.cluster.storage.find((s) => s.devids.includes(open.devid))!.devids.find((d) => d !== open.devid)!;
  const moved = open.path.replace(fidPath(open.devid, open.fid), fidPath(other, open.fid));
  assert.is((await request(moved, "PUT", body)).status, 403, "a URL moved to another device");
  assert.not.ok(existsSync(file), "nothing stored");
  assert.not.ok(existsSync(fileOf(tc, other, open.fid)), "nothing stored on the other device");
  assert.is(await code(tc.client.fileInfo("sig", "refused")), "unknown_key", "no metadata");

  // the URL as given still works, and create_close accepts it
  assert.is((await request(open.path, "PUT", body)).status, 201);
  await tc.client.rpc("create_close", { domain: "sig", key: "refused", fid: open.fid, devid: open.devid, path: open.path, size: 100 });
  assert.ok(readFileSync(file).equals(body));
});

t("storage - a body longer than the signed max length is refused (413) and nothing is stored", async ({ tc }) => {
  const open = await tc.client.rpc("create_open", { domain: "sig", key: "long", class: "one", size: 100 });
  const file = fileOf(tc, open.devid, open.fid);
  const declared = await request(open.path, "PUT", randomBytes(101));
  assert.is(declared.status, 413);
  assert.match(declared.text, /longer than the 100/);
  // no declared length: refused once the 101st byte arrives (the answer may be lost with the connection)
  const streamed = await httpRequest(open.path, { method: "PUT", body: Readable.from([randomBytes(60), randomBytes(60)]), timeoutMs: 10_000 })
    .then((r) => r.statusCode, (err: Error) => err.message);
  assert.ok(streamed === 413 || /socket|reset|EPIPE/i.test(String(streamed)), `refused: ${streamed}`);
  await until(() => !existsSync(file), 2_000, "nothing stored");
  assert.is(await code(tc.client.rpc("create_close", { domain: "sig", key: "long", fid: open.fid, devid: open.devid, path: open.path, size: 101 })), "size_verify_error");

  // without a size, the cluster's cap bounds the PUT; a size above it is refused at create_open
  assert.is(await code(tc.client.rpc("create_open", { domain: "sig", key: "huge", size: MAX_FILE + 1 })), "bogus_args");
  const capped = await tc.client.rpc("create_open", { domain: "sig", key: "capped", class: "one" });
  assert.match(capped.path, new RegExp(`[?&]l=${MAX_FILE}&`));
  // a big refused body is not read: the answer may be lost as the connection closes
  const big = await request(capped.path, "PUT", randomBytes(MAX_FILE + 1)).then((r) => r.status, (err: Error) => err.message);
  assert.ok(big === 413 || /socket|reset|EPIPE/i.test(String(big)), `refused: ${big}`);
  assert.not.ok(existsSync(fileOf(tc, capped.devid, capped.fid)));
});

t("storage - a PUT never replaces a stored fid (409, bytes unchanged); a PUT cut off mid-body may be retried", async ({ tc }) => {
  const size = 400_000; // streamed through a temp file
  const open = await tc.client.rpc("create_open", { domain: "sig", key: "once", class: "one", size });
  const file = fileOf(tc, open.devid, open.fid);
  // cut off after half its body: the temp file goes, so the retry is not a conflict
  await new Promise<void>((resolve) => {
    const u = new URL(open.path);
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      sock.write(randomBytes(size / 2), () => setTimeout(() => { sock.destroy(); resolve(); }, 100));
    });
  });
  const first = randomBytes(size);
  await until(async () => (await request(open.path, "PUT", first)).status === 201, 5_000, "the retried PUT is stored");
  await tc.client.rpc("create_close", { domain: "sig", key: "once", fid: open.fid, devid: open.devid, path: open.path, size });
  const again = await request(open.path, "PUT", randomBytes(1000));
  assert.is(again.status, 409);
  assert.match(again.text, /never replaces/);
  assert.ok(readFileSync(file).equals(first), "the bytes are unchanged");
  assert.ok(readFileSync(file).equals(await readAll((await tc.client.get("sig", "once")).body)));
});

t("storage - DELETE needs the cluster's signature; the deleter's works", async ({ tc, key }) => {
  const r = await tc.client.put("sig", "del", randomBytes(500), { class: "one" });
  const file = fileOf(tc, r.devid, r.fid);
  const url = plain(r.path);
  const unsigned = await request(url, "DELETE");
  assert.is(unsigned.status, 403);
  assert.match(unsigned.text, /DELETE needs a URL signed/);
  // a read grant is no delete grant
  assert.is((await request(signUrl(key, url, { method: "GET", devid: r.devid, fid: r.fid, expires: Date.now() / 1000 + 60 }), "DELETE")).status, 403);
  assert.ok(existsSync(file), "the file is still there");
  await tc.client.delete("sig", "del");
  await until(() => !existsSync(file), 20_000, "the deleter removed the bytes");
});

t("storage - a replica fetch naming anything but a registered storage node's plain fid URL is refused", async ({ tc }) => {
  const r = await tc.client.put("sig", "fetched", randomBytes(300), { class: "one" });
  const hosts = await tc.client.getHosts();
  const target = tc.cluster.storage.find((s) => !s.devids.includes(r.devid))!;
  const hostid = hosts.find((h) => h.hostname === target.host)!.hostid;
  const fetch = async (from: string) => {
    const msg = await tc.client.nc.request(`mogile.storage.${hostid}.fetch`, JSON.stringify({ devid: target.devids[0], fid: r.fid, from, length: 300 }), { timeout: 10_000 });
    return msg.json<{ ok: boolean; error?: string }>();
  };
  for (const from of [`${tc.cluster.httpUrl}/v1/domains/sig/files/fetched`, r.path, "http://169.254.169.254/latest/meta-data/"]) {
    const res = await fetch(from);
    assert.is(res.ok, false, `${from}: ${JSON.stringify(res)}`);
  }
  assert.not.ok(existsSync(fileOf(tc, target.devids[0], r.fid)), "nothing written");
  assert.ok((await fetch(plain(r.path))).ok, "the plain URL of the copy is pulled");
});

t("signed_get - update_domain sets and get_domains reports the options; unknown domains are refused", async ({ tc }) => {
  const before = (await tc.client.getDomains()).find((d) => d.domain === "sig")!;
  assert.equal([before.signed_get, before.anonymous_read], [false, false]);
  assert.equal(await tc.client.updateDomain("sig", { anonymous_read: true }), { domain: "sig", signed_get: false, anonymous_read: true });
  assert.equal(await tc.client.updateDomain("sig", {}), { domain: "sig", signed_get: false, anonymous_read: true }, "options left out stay");
  assert.equal(await tc.client.updateDomain("sig", { anonymous_read: false }), { domain: "sig", signed_get: false, anonymous_read: false });
  assert.equal(await tc.client.updateDomain("priv", { signed_get: true }), { domain: "priv", signed_get: true, anonymous_read: false });
  const priv = (await tc.client.getDomains()).find((d) => d.domain === "priv")!;
  assert.equal([priv.signed_get, priv.anonymous_read], [true, false]);
  assert.is(await code(tc.client.updateDomain("nowhere", { signed_get: true })), "domain_not_found");
});

t("signed_get - unsigned reads of its files and their replicas are refused; get_paths hands out signed URLs that work", async ({ tc }) => {
  const body = randomBytes(5000);
  const r = await tc.client.put("priv", "secret", body, { class: "two" });
  assert.match(r.path, /[?&]p=1&/, "the PUT URL asks for a protected file");
  const info = await until(async () => { const i = await tc.client.fileInfo("priv", "secret"); return i.devids!.length >= 2 && i; }, 30_000, "2 copies");
  for (const devid of info.devids!) {
    assert.is(statSync(fileOf(tc, devid, info.fid)).mode & 0o777, 0o640, `the copy on dev${devid} is marked protected`);
  }
  // HEAD-verified (noverify off) and unverified paths are signed and read back
  for (const noverify of [false, true]) {
    const { paths } = await tc.client.getPaths("priv", "secret", { noverify, pathcount: 2 });
    assert.is(paths.length, 2);
    for (const p of paths) {
      assert.match(new URL(p).search, /^\?e=\d+&s=[\w-]{43}$/);
      const got = await httpRequest(p, { method: "GET" });
      assert.is(got.statusCode, 200);
      assert.ok((await readAll(got)).equals(body));
      assert.is((await request(p, "HEAD")).headers["x-mogile-protected"], "1");
      const unsigned = await request(plain(p), "GET");
      assert.is(unsigned.status, 403);
      assert.match(unsigned.text, /needs a signed URL/);
      assert.is((await request(plain(p), "HEAD")).status, 403);
      assert.is((await request(`${plain(p)}?digest=MD5`, "GET")).status, 403, "not even its digest");
      assert.is((await request(p.replace(/s=[\w-]+$/, "s=" + "A".repeat(43)), "GET")).status, 403, "a forged signature");
    }
  }
  assert.ok((await readAll((await tc.client.get("priv", "secret")).body)).equals(body), "the SDK reads it");
  // files of other domains are read as before
  const open = await tc.client.put("sig", "public", Buffer.from("hello"), { class: "one" });
  const pub = await tc.client.getPaths("sig", "public");
  assert.is(new URL(pub.paths[0]).search, "");
  assert.is((await request(plain(open.path), "GET")).text, "hello");
});

t("signed_get - turned off, files stored protected meanwhile stay readable (get_paths keeps signing)", async ({ tc }) => {
  await tc.client.updateDomain("priv", { signed_get: true });
  const body = randomBytes(300);
  await tc.client.put("priv", "kept", body, { class: "two" });
  assert.equal(await tc.client.updateDomain("priv", { signed_get: false }), { domain: "priv", signed_get: false, anonymous_read: false });
  const { paths } = await tc.client.getPaths("priv", "kept", { noverify: false });
  assert.ok(paths.length >= 1);
  assert.match(paths[0], /[?&]s=/);
  assert.ok((await readAll((await tc.client.get("priv", "kept")).body)).equals(body));
  // a file stored now is not protected
  const later = await tc.client.put("priv", "later", Buffer.from("open"), { class: "two" });
  assert.not.match(later.path, /[?&]p=1/);
  assert.is((await request(plain(later.path), "GET")).text, "open");
  await tc.client.updateDomain("priv", { signed_get: true });
});

// ---- HTTP server limits ----

/** Opens a raw connection, runs `talk`, and resolves with ms until the server closed it (or null after `maxMs`). */
function closedAfter(url: string, talk: (s: net.Socket) => void, maxMs: number): Promise<{ ms: number | null; reply: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    let reply = "";
    const t0 = Date.now();
    const sock = net.connect(Number(u.port), u.hostname, () => talk(sock));
    const timer = setTimeout(() => { sock.destroy(); resolve({ ms: null, reply }); }, maxMs);
    sock.on("data", (d) => { reply += d.toString(); });
    sock.on("error", () => {});
    sock.on("close", () => { clearTimeout(timer); resolve({ ms: Date.now() - t0, reply }); });
  });
}

t("limits - a client sending half a request head is cut off after the headers timeout, trickling or silent", async ({ tc }) => {
  const url = tc.cluster.storage[0].url;
  const head = `GET ${fidPath(tc.cluster.storage[0].devids[0], 1)} HTTP/1.1\r\nHost: x\r\n`;
  // a byte every 200 ms keeps the socket busy: only the headers timeout ends it
  let trickle: NodeJS.Timeout | undefined;
  const slow = await closedAfter(url, (s) => {
    s.write(head);
    trickle = setInterval(() => s.write("X"), 200);
  }, 10_000);
  clearInterval(trickle);
  assert.ok(slow.ms !== null && slow.ms <= HEADERS_TIMEOUT_MS * 2 + 500, `closed after ${slow.ms} ms`);
  const silent = await closedAfter(url, (s) => s.write(head), 10_000);
  assert.ok(silent.ms !== null && silent.ms <= HEADERS_TIMEOUT_MS * 2 + 500, `closed after ${silent.ms} ms`);
});

t("limits - an upload that stalls mid-body is cut off after the idle timeout and leaves nothing", async ({ tc }) => {
  const open = await tc.client.rpc("create_open", { domain: "sig", key: "stalled", class: "one", size: 1000 });
  const u = new URL(open.path);
  const r = await closedAfter(open.path, (s) => {
    s.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`);
    s.write(randomBytes(100));
  }, 10_000);
  assert.ok(r.ms !== null && r.ms >= IDLE_TIMEOUT_MS - 200 && r.ms <= IDLE_TIMEOUT_MS * 2 + 500, `closed after ${r.ms} ms`);
  await until(() => !existsSync(fileOf(tc, open.devid, open.fid)), 2_000, "nothing stored");
  // a big, steady upload is not cut off by it (bytes keep moving)
  const open2 = await tc.client.rpc("create_open", { domain: "sig", key: "steady", class: "one", size: 600_000 });
  const chunks = Array.from({ length: 6 }, () => randomBytes(100_000));
  const steady = Readable.from((async function* () { for (const c of chunks) { yield c; await new Promise((res) => setTimeout(res, IDLE_TIMEOUT_MS / 3)); } })());
  const res = await httpRequest(open2.path, { method: "PUT", body: steady, headers: { "content-length": 600_000 }, timeoutMs: 30_000 });
  assert.is(res.statusCode, 201, "a slow but steady upload longer than the idle timeout is stored");
  res.resume();
});

t("limits - a request head larger than the limit is refused with 431", async ({ tc }) => {
  const url = tc.cluster.storage[0].url + fidPath(tc.cluster.storage[0].devids[0], 1);
  const res = await httpRequest(url, { method: "GET", headers: { "x-big": "y".repeat(8192) } }).then((r) => r.statusCode, (err: Error) => err.message);
  assert.is(res, 431);
});

t.run();
