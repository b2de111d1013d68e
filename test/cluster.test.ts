// Integration: real nats-server, real metadata server, 3 storage hosts; the SDK over NATS.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { Svcm } from "@nats-io/services";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until, readAll } from "./helpers/until.ts";
import { fidPath } from "../protocol/paths.ts";
import { MogileError } from "../protocol/errors.ts";
import { SERVICE_NAME, subjects } from "../protocol/subjects.ts";
import { httpRequest, drain } from "../protocol/http.ts";

const t = suite<{ tc: TestCluster }>("cluster");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("cluster", { counts: { query: 2 } });
  await ctx.tc.client.createDomain("photos");
  await ctx.tc.client.createClass("photos", "single", 1);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

/** the on-disk file of a fid on a device, found through the cluster's storage hosts */
const onDisk = (tc: TestCluster, devid: number, fid: number) => {
  const host = tc.cluster.storage.find((s) => s.devids.includes(devid))!;
  return path.join(host.root, fidPath(devid, fid));
};
const hostOf = (tc: TestCluster, devid: number) => tc.cluster.storage.find((s) => s.devids.includes(devid))!.host;
const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };

t("store - a file gets 2 copies on 2 hosts, reads back byte-identical, and delete removes every copy", async ({ tc }) => {
  const body = randomBytes(300_000);
  const put = await tc.client.put("photos", "cats/tom.jpg", body);
  assert.is(put.length, body.length);
  const info = await until(async () => { const i = await tc.client.fileInfo("photos", "cats/tom.jpg"); return i.devcount === 2 && i; }, 20_000, "2 copies");
  const devids = info.devids!;
  assert.is.not(hostOf(tc, devids[0]), hostOf(tc, devids[1]), "copies on distinct hosts");
  for (const d of devids) assert.ok(readFileSync(onDisk(tc, d, info.fid)).equals(body), `copy on dev${d} is identical`);

  const paths = await tc.client.getPaths("photos", "cats/tom.jpg");
  assert.is(paths.paths.length, 2);
  for (const p of paths.paths) {
    const res = await httpRequest(p, { method: "GET" });
    assert.ok((await readAll(res)).equals(body), `${p} serves the bytes`);
  }
  const got = await tc.client.get("photos", "cats/tom.jpg");
  assert.ok((await readAll(got.body)).equals(body));
  const ranged = await tc.client.get("photos", "cats/tom.jpg", { range: "bytes=1000-1999" });
  assert.is(ranged.status, 206);
  assert.ok((await readAll(ranged.body)).equals(body.subarray(1000, 2000)));
  assert.is(await code(tc.client.get("photos", "cats/tom.jpg", { range: "bytes=999999-" })), "range_not_satisfiable");

  await tc.client.delete("photos", "cats/tom.jpg");
  assert.is(await code(tc.client.getPaths("photos", "cats/tom.jpg")), "unknown_key");
  await until(() => devids.every((d) => !existsSync(onDisk(tc, d, info.fid))), 20_000, "bytes gone from every device");
});

t("store - a stream upload, an empty file and a single-copy class", async ({ tc }) => {
  const chunks = Array.from({ length: 20 }, () => randomBytes(64 * 1024));
  const put = await tc.client.put("photos", "stream", Readable.from(chunks));
  assert.is(put.length, 20 * 64 * 1024);
  assert.ok((await readAll((await tc.client.get("photos", "stream")).body)).equals(Buffer.concat(chunks)));

  await tc.client.put("photos", "empty", Buffer.alloc(0));
  assert.is((await readAll((await tc.client.get("photos", "empty")).body)).length, 0);

  await tc.client.put("photos", "one", Buffer.from("x"), { class: "single" });
  const info = await tc.client.fileInfo("photos", "one");
  assert.is(info.class, "single");
  assert.is(info.devcount, 1);
});

t("store - replacing a key serves the new bytes and deletes the old fid", async ({ tc }) => {
  const first = await tc.client.put("photos", "replace-me", Buffer.from("old version"));
  await until(async () => (await tc.client.fileInfo("photos", "replace-me")).devcount === 2, 20_000, "old copies");
  const oldDevs = (await tc.client.fileInfo("photos", "replace-me")).devids!;
  const second = await tc.client.put("photos", "replace-me", Buffer.from("new version!"));
  assert.is.not(second.fid, first.fid);
  assert.is((await readAll((await tc.client.get("photos", "replace-me")).body)).toString(), "new version!");
  await until(() => oldDevs.every((d) => !existsSync(onDisk(tc, d, first.fid))), 20_000, "old fid's bytes gone");
});

t("list - keys by prefix, after and limit", async ({ tc }) => {
  for (const k of ["list/a", "list/b", "list/c", "other/x"]) await tc.client.put("photos", k, Buffer.from(k));
  assert.equal((await tc.client.list("photos", { prefix: "list/" })).keys, ["list/a", "list/b", "list/c"]);
  const page = await tc.client.list("photos", { prefix: "list/", limit: 2 });
  assert.equal(page.keys, ["list/a", "list/b"]);
  assert.is(page.next_after, "list/b");
  assert.equal((await tc.client.list("photos", { prefix: "list/", after: "list/b" })).keys, ["list/c"]);
  assert.is(await code(tc.client.list("photos", { prefix: "nothing/" })), "none_match");
  assert.is(await code(tc.client.list("photos", { prefix: "list/", after: "other/x" })), "after_mismatch");
});

t("errors - unknown domain, class and key, and duplicates", async ({ tc }) => {
  assert.is(await code(tc.client.put("nope", "k", Buffer.from("x"))), "unreg_domain");
  assert.is(await code(tc.client.put("photos", "k", Buffer.from("x"), { class: "nope" })), "unreg_class");
  assert.is(await code(tc.client.getPaths("photos", "missing")), "unknown_key");
  assert.is(await code(tc.client.getPaths("nope", "missing")), "unreg_domain");
  assert.is(await code(tc.client.delete("photos", "missing")), "unknown_key");
  assert.is(await code(tc.client.createDomain("photos")), "domain_exists");
  assert.is(await code(tc.client.createClass("photos", "single", 1)), "class_exists");
  assert.is(await code(tc.client.createClass("nope", "c", 1)), "domain_not_found");
  assert.is(await code(tc.client.rpc("get_paths", { key: "k" } as never)), "no_domain");
  assert.is(await code(tc.client.rpc("list_keys", {} as never)), "no_domain");
});

t("errors - a malformed request is refused with a clear error", async ({ tc }) => {
  const msg = await tc.client.nc.request(subjects.rpc("create_open"), "{not json", { timeout: 5_000 });
  assert.ok(msg.headers?.get("Nats-Service-Error"), "service error header set");
  assert.is(JSON.parse(msg.string()).error, "bad_request");
});

t("errors - a truncated upload is refused at create_close and nothing is linked", async ({ tc }) => {
  const open = await tc.client.rpc("create_open", { domain: "photos", key: "truncated", multi_dest: true, size: 1000 });
  // the client sends only 600 bytes but claims 1000 at close
  const res = await httpRequest(open.path, { method: "PUT", body: randomBytes(600) });
  await drain(res);
  assert.is(await code(tc.client.rpc("create_close", { domain: "photos", key: "truncated", fid: open.fid, devid: open.devid, path: open.path, size: 1000 })), "size_mismatch");
  assert.is(await code(tc.client.getPaths("photos", "truncated")), "unknown_key");
  // the discarded bytes are removed, and the upload cannot be closed a second time
  await until(() => !existsSync(onDisk(tc, open.devid, open.fid)), 20_000, "discarded bytes removed");
  assert.is(await code(tc.client.rpc("create_close", { domain: "photos", key: "truncated", fid: open.fid, devid: open.devid, path: open.path, size: 600 })), "no_temp_file");
});

t("errors - a body shorter than its Content-Length is never stored", async ({ tc }) => {
  const open = await tc.client.rpc("create_open", { domain: "photos", key: "short", size: 1000 });
  const src = new Readable({ read() {} });
  const pending = httpRequest(open.path, { method: "PUT", body: src, headers: { "content-length": 1000 } });
  src.push(randomBytes(400));
  setTimeout(() => src.destroy(new Error("client went away")), 100);
  await pending.then(drain, () => {});
  await until(async () => { const r = await httpRequest(open.path, { method: "HEAD" }); await drain(r); return r.statusCode === 404; }, 5_000, "no partial file");
  assert.is(await code(tc.client.rpc("create_close", { domain: "photos", key: "short", fid: open.fid, devid: open.devid, path: open.path, size: 1000 })), "size_verify_error");
  assert.is(await code(tc.client.getPaths("photos", "short")), "unknown_key");
});

/** a request with the path exactly as given (URL parsers would normalise `..` away) */
function rawRequest(port: number, method: string, rawPath: string, body = ""): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => {
      sock.write(`${method} ${rawPath} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
    let text = "";
    sock.on("data", (c) => { text += c; });
    sock.on("end", () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
    sock.on("error", reject);
  });
}

t("storage - refuses paths outside its devices", async ({ tc }) => {
  const { port, root } = tc.cluster.storage[0];
  for (const p of ["/dev1/../../etc/passwd", "/dev1/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd", "/dev99/0/000/000/0000000001.fid", "/dev1/0/000/000/../../../../x.fid"]) {
    const status = await rawRequest(port, "GET", p);
    assert.ok(status === 400 || status === 404, `GET ${p} → ${status}`);
  }
  assert.is(await rawRequest(port, "PUT", "/dev1/../escape.fid", "x"), 400);
  assert.is(await rawRequest(port, "PUT", "/dev1/0/000/000/../../../../../escape.fid", "x"), 400);
  assert.not.ok(existsSync(path.join(root, "..", "escape.fid")));
  assert.not.ok(existsSync(path.join(root, "escape.fid")));
});

t("query - two query actors share requests (queue group)", async ({ tc }) => {
  for (let i = 0; i < 100; i++) await tc.client.rpc("noop", {});
  const stats = await new Svcm(tc.client.nc).client().stats(SERVICE_NAME);
  const perInstance: number[] = [];
  for await (const s of stats) perInstance.push((s.endpoints ?? []).reduce((n, e) => n + e.num_requests, 0));
  assert.is(perInstance.length, 2, "two query actors answer");
  assert.ok(perInstance.every((n) => n > 0), `both served requests: ${perInstance}`);
});

t.run();
