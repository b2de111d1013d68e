// Unit: the gateway's keys, route guards and HTTP limits, in-process against a fake tracker client
// (no cluster): app.request() for routing, a real listening server for sockets and streamed bodies.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { Server } from "node:http";
import { Readable } from "node:stream";
import { MogileError } from "../protocol/errors.ts";
import { requests, type KeyScope } from "../protocol/schemas.ts";
import type { MogileClient } from "../protocol/client.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { allows, mergeScopes, newKeyId, newSecret, openSecret, parseCredential, sealSecret, secretVerifier } from "../actors/runtime/keys.ts";
import { createApp } from "../actors/gateway/app.ts";
import { Authenticator, GUARDS } from "../actors/gateway/auth.ts";
import { RPC_NEEDS, rpcNeed } from "../actors/gateway/access.ts";
import { Config, limitsOf, listen, type GatewayConfig } from "../actors/gateway/server.ts";
import { checkResponses, gatewayFetch } from "./helpers/gateway.ts";

const CLUSTER_KEY = randomBytes(32);

interface FakeKey { id: string; secret: string; scopes: KeyScope[]; cluster_admin: boolean; revoked: boolean }

/** A tracker that answers key_lookup and get_domains from memory and records every other call. */
class FakeTracker {
  keys = new Map<string, FakeKey>();
  anonymous = new Set<string>();
  calls: { command: string; args: unknown }[] = [];
  lookups = 0;

  addKey(scopes: KeyScope[], cluster_admin = false): string {
    const k = { id: newKeyId(), secret: newSecret(), scopes, cluster_admin, revoked: false };
    this.keys.set(k.id, k);
    return `${k.id}:${k.secret}`;
  }

  async rpc(command: string, args: Record<string, unknown>): Promise<unknown> {
    if (command === "key_lookup") {
      this.lookups++;
      const k = this.keys.get(args.id as string);
      if (!k) throw new MogileError("unknown_access_key");
      return { id: k.id, scopes: k.scopes, cluster_admin: k.cluster_admin, revoked: k.revoked, verifier: secretVerifier(CLUSTER_KEY, k.id, k.secret) };
    }
    if (command === "get_domains") {
      return { domains: ["a", "b", "pub"].map((d) => ({ domain: d, classes: [], signed_get: false, anonymous_read: this.anonymous.has(d) })) };
    }
    this.calls.push({ command, args });
    // replies of the commands these tests call, shaped as the document says (every response is checked)
    const a = args as { domain?: string; class?: string; key?: string; mindevcount?: number };
    switch (command) {
      case "get_paths": return { paths: ["http://storage/x"], fid: 1, length: 3 };
      case "create_domain": return { domain: a.domain };
      case "create_class": case "update_class": return { domain: a.domain, class: a.class, mindevcount: a.mindevcount };
      case "create_open": return { fid: 1, devid: 1, path: "http://storage/x", dev_count: 1, dests: [{ devid: 1, path: "http://storage/x" }] };
      case "key_list": return { keys: [] };
      case "list_keys": return { keys: [], key_count: 0, next_after: "" };
      default: return {};
    }
  }
  async getDomains() { return ((await this.rpc("get_domains", {})) as { domains: { domain: string; classes: [] }[] }).domains; }
  async list(domain: string) { this.calls.push({ command: "list_keys", args: { domain } }); return { keys: [], key_count: 0, next_after: "" }; }
  async getHosts() { this.calls.push({ command: "get_hosts", args: {} }); return []; }
  async delete(domain: string, key: string) { this.calls.push({ command: "delete", args: { domain, key } }); return {}; }
  async getPaths(domain: string, key: string) { return this.rpc("get_paths", { domain, key }); }
  async get(domain: string, key: string) {
    this.calls.push({ command: "get", args: { domain, key } });
    return { body: Readable.from([Buffer.from("abc")]), status: 200, contentLength: 3, path: "http://storage/x" };
  }
  /** consumes the upload as the SDK would; a body that fails mid-way fails the upload */
  async put(domain: string, key: string, body: Readable) {
    let length = 0;
    try {
      for await (const chunk of body) length += (chunk as Buffer).length;
    } catch (err) {
      throw new MogileError("upload_failed", (err as Error).message);
    }
    this.calls.push({ command: "put", args: { domain, key, length } });
    return { fid: 1, key, length, devid: 1, path: "http://storage/x" };
  }
  changed(command: string) { return this.calls.filter((c) => c.command === command); }
}

const testConfig = (over: Record<string, string> = {}): GatewayConfig =>
  Object.freeze(Config.parse({ MOGILE_HTTP_PORT: "0", MOGILE_GATEWAY_KEY_CACHE_MS: "60000", ...over }));

function makeApp(over: Record<string, string> = {}) {
  const tracker = new FakeTracker();
  const cfg = testConfig(over);
  const auth = new Authenticator(tracker as unknown as Pick<MogileClient, "rpc">, { clusterKey: CLUSTER_KEY, keyCacheMs: cfg.MOGILE_GATEWAY_KEY_CACHE_MS, domainCacheMs: 0 });
  // every response these tests get is checked against the app's own /v1/openapi.json
  const app = checkResponses(createApp(tracker as unknown as MogileClient, createLogger({ role: "test" }, "error"), { auth, limits: limitsOf(cfg) }));
  return { tracker, auth, app, cfg };
}

type Ctx = ReturnType<typeof makeApp> & { admin: string; readA: string; writeA: string; adminA: string };
const t = suite<Ctx>("gateway-auth");
t.before.each((ctx) => {
  Object.assign(ctx, makeApp());
  ctx.admin = ctx.tracker.addKey([], true);
  ctx.readA = ctx.tracker.addKey([{ domain: "a", access: "read" }]);
  ctx.writeA = ctx.tracker.addKey([{ domain: "a", access: "write" }]);
  ctx.adminA = ctx.tracker.addKey([{ domain: "a", access: "admin" }]);
});

const req = (ctx: Ctx, method: string, path: string, key?: string, body?: unknown) =>
  ctx.app.request(path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const rpc = (ctx: Ctx, command: string, key: string | undefined, body: unknown = {}) => req(ctx, "POST", `/v1/rpc/${command}`, key, body);

t("gateway auth - every /v1 route names the access it needs (a guard), and every tracker command is classified", ({ app }) => {
  const byRoute = new Map<string, boolean>();
  for (const r of app.routes) {
    if (!r.path.startsWith("/v1/") || r.path === "/v1/*") continue;
    const k = `${r.method} ${r.path}`;
    byRoute.set(k, (byRoute.get(k) ?? false) || GUARDS.has(r.handler));
  }
  assert.ok(byRoute.size > 20, `found ${byRoute.size} routes`);
  assert.equal([...byRoute].filter(([, guarded]) => !guarded).map(([k]) => k), [], "routes without a guard");
  assert.equal(Object.keys(requests).filter((c) => !Object.hasOwn(RPC_NEEDS, c)), [], "commands without a classification");
  assert.equal(rpcNeed("some_future_command"), { kind: "cluster" }, "an unclassified command needs cluster-admin");
  assert.equal(rpcNeed("toString"), { kind: "cluster" });
});

t("gateway auth - keys: id and secret formats, sealed secrets open only under their id and cluster key", () => {
  const id = newKeyId();
  const secret = newSecret();
  assert.match(id, /^MK[A-Z2-7]{18}$/);
  assert.is(secret.length, 40);
  assert.equal(parseCredential(`${id}:${secret}`), { id, secret });
  for (const bad of ["", id, `${id}:`, `${id}:short`, `mk${id.slice(2)}:${secret}`, `${id}:${secret}x`]) assert.is(parseCredential(bad), null, bad);
  const sealed = sealSecret(CLUSTER_KEY, id, secret);
  assert.not.ok(sealed.includes(secret));
  assert.is(openSecret(CLUSTER_KEY, id, sealed), secret);
  assert.throws(() => openSecret(CLUSTER_KEY, newKeyId(), sealed), "bound to its id");
  assert.throws(() => openSecret(randomBytes(32), id, sealed), "bound to the cluster key");
});

t("gateway auth - scopes: write implies read, admin implies write, per domain; cluster admins may do anything", () => {
  const w = { cluster_admin: false, scopes: [{ domain: "a", access: "write" as const }] };
  assert.ok(allows(w, "a", "read") && allows(w, "a", "write"));
  assert.not.ok(allows(w, "a", "admin"));
  assert.not.ok(allows(w, "b", "read"));
  assert.ok(allows({ cluster_admin: true, scopes: [] }, "anything", "admin"));
  assert.equal(mergeScopes([{ domain: "a", access: "read" }, { domain: "b", access: "write" }, { domain: "a", access: "admin" }, { domain: "a", access: "write" }]),
    [{ domain: "a", access: "admin" }, { domain: "b", access: "write" }]);
});

t("gateway auth - no key, a malformed header, an unknown id or a wrong secret: 401 with WWW-Authenticate: Bearer, nothing called", async (ctx) => {
  const [id] = ctx.admin.split(":");
  const cases: (string | undefined)[] = [undefined, "Basic dXNlcjpwYXNz", "Bearer", "Bearer nonsense", `Bearer ${newKeyId()}:${newSecret()}`, `Bearer ${id}:${newSecret()}`];
  for (const header of cases) {
    for (const [method, path, body] of [["POST", "/v1/domains", { domain: "x" }], ["POST", "/v1/rpc/set_state", { host: "h", device: 1, state: "dead" }], ["DELETE", "/v1/domains/a/files/k", undefined]] as const) {
      const r = await ctx.app.request(path, { method, headers: header ? { authorization: header } : {}, body: body && JSON.stringify(body) });
      assert.is(r.status, 401, `${header} ${method} ${path}`);
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.is((await r.json()).error, "unauthorized");
    }
  }
  assert.equal(ctx.tracker.calls, [], "no command ran");
  // health stays open
  assert.is((await ctx.app.request("/healthz")).status, 200);
});

t("gateway auth - a read key reads its domain; writing, another domain, or admin routes are 403", async (ctx) => {
  assert.is((await req(ctx, "GET", "/v1/domains/a/files/k", ctx.readA)).status, 200, "HEAD-less GET reaches get_paths");
  assert.is((await req(ctx, "GET", "/v1/domains/a/files", ctx.readA)).status, 200);
  assert.is((await rpc(ctx, "get_paths", ctx.readA, { domain: "a", key: "k" })).status, 200);
  ctx.tracker.calls = [];
  const refused = [
    await req(ctx, "DELETE", "/v1/domains/a/files/k", ctx.readA),
    await req(ctx, "PATCH", "/v1/domains/a/files/k", ctx.readA, { class: "c" }),
    await req(ctx, "POST", "/v1/domains/a/files/k/rename", ctx.readA, { to: "j" }),
    await rpc(ctx, "create_open", ctx.readA, { domain: "a", key: "k" }),
    await rpc(ctx, "delete", ctx.readA, { domain: "a", key: "k" }),
    await req(ctx, "GET", "/v1/domains/b/files/k", ctx.readA),
    await rpc(ctx, "get_paths", ctx.readA, { domain: "b", key: "k" }),
    await req(ctx, "POST", "/v1/domains/a/classes", ctx.readA, { class: "c", mindevcount: 1 }),
    await req(ctx, "GET", "/v1/hosts", ctx.readA),
  ];
  for (const r of refused) {
    assert.is(r.status, 403);
    assert.is((await r.json()).error, "forbidden");
  }
  assert.equal(ctx.tracker.calls, [], "nothing ran");
});

t("gateway auth - a domain write key stores and deletes there, never cluster admin commands", async (ctx) => {
  assert.is((await rpc(ctx, "create_open", ctx.writeA, { domain: "a", key: "k" })).status, 200);
  assert.is((await req(ctx, "DELETE", "/v1/domains/a/files/k", ctx.writeA)).status, 204);
  ctx.tracker.calls = [];
  const admin = [
    ["set_state", { host: "h", device: 1, state: "dead" }], ["register_storage", { host: "evil", ip: "10.0.0.1", port: 80, devids: [1] }],
    ["create_domain", { domain: "new" }], ["delete_domain", { domain: "a" }], ["key_add", { cluster_admin: true }], ["key_list", {}],
    ["set_server_setting", { key: "k", value: "v" }], ["fsck_start", {}], ["rebalance_start", {}], ["list_fids", {}], ["file_debug", { fid: 1 }],
    ["create_class", { domain: "a", class: "c", mindevcount: 1 }], ["update_domain", { domain: "a", anonymous_read: true }],
  ] as const;
  for (const [command, args] of admin) {
    const r = await rpc(ctx, command, ctx.writeA, args);
    assert.is(r.status, 403, command);
  }
  for (const [method, path] of [["PATCH", "/v1/devices/1"], ["POST", "/v1/hosts"], ["GET", "/v1/stats"], ["GET", "/v1/admin/failed-jobs"], ["POST", "/v1/domains"]]) {
    assert.is((await req(ctx, method, path, ctx.writeA, method === "GET" ? undefined : {})).status, 403, `${method} ${path}`);
  }
  assert.equal(ctx.tracker.calls, [], "nothing ran");
});

t("gateway auth - a domain admin key manages its classes and settings; a cluster-admin key may do anything", async (ctx) => {
  assert.is((await req(ctx, "POST", "/v1/domains/a/classes", ctx.adminA, { class: "c", mindevcount: 1 })).status, 201);
  assert.is((await rpc(ctx, "update_class", ctx.adminA, { domain: "a", class: "c", mindevcount: 2 })).status, 200);
  assert.is((await req(ctx, "POST", "/v1/domains/b/classes", ctx.adminA, { class: "c", mindevcount: 1 })).status, 403);
  assert.is((await req(ctx, "POST", "/v1/domains", ctx.adminA, { domain: "z" })).status, 403);
  for (const [command, args] of [["set_state", { host: "h", device: 1, state: "down" }], ["create_domain", { domain: "z" }], ["key_list", {}], ["create_open", { domain: "b", key: "k" }]] as const) {
    assert.is((await rpc(ctx, command, ctx.admin, args)).status, 200, command);
  }
  assert.is((await req(ctx, "GET", "/v1/hosts", ctx.admin)).status, 200);
});

t("gateway auth - get_domains lists only the domains a key has a scope on", async (ctx) => {
  const names = async (r: Response) => ((await r.json()).domains as { domain: string }[]).map((d) => d.domain);
  assert.equal(await names(await req(ctx, "GET", "/v1/domains", ctx.readA)), ["a"]);
  assert.equal(await names(await rpc(ctx, "get_domains", ctx.writeA)), ["a"]);
  assert.equal(await names(await req(ctx, "GET", "/v1/domains", ctx.admin)), ["a", "b", "pub"]);
  assert.is((await req(ctx, "GET", "/v1/domains")).status, 401);
});

t("gateway auth - anonymous reads only where the domain allows it; writes always need a key", async (ctx) => {
  assert.is((await req(ctx, "GET", "/v1/domains/pub/files/k")).status, 401, "off by default");
  ctx.tracker.anonymous.add("pub");
  ctx.auth.forgetDomains();
  assert.is((await req(ctx, "GET", "/v1/domains/pub/files/k")).status, 200);
  assert.is((await req(ctx, "HEAD", "/v1/domains/pub/files/k")).status, 200);
  assert.is((await rpc(ctx, "get_paths", undefined, { domain: "pub", key: "k" })).status, 200);
  assert.is((await req(ctx, "GET", "/v1/domains/pub/files/k", ctx.readA)).status, 200, "a key scoped elsewhere reads it too");
  ctx.tracker.calls = [];
  assert.is((await req(ctx, "DELETE", "/v1/domains/pub/files/k")).status, 401);
  assert.is((await req(ctx, "PUT", "/v1/domains/pub/files/k")).status, 401);
  assert.is((await rpc(ctx, "create_open", undefined, { domain: "pub", key: "k" })).status, 401);
  assert.is((await rpc(ctx, "stats", undefined)).status, 401);
  assert.is((await req(ctx, "GET", "/v1/domains/a/files/k")).status, 401, "another domain stays closed");
  assert.equal(ctx.tracker.calls, []);
});

t("gateway auth - a revoked key is refused as soon as its cache entry is dropped; lookups are cached meanwhile", async (ctx) => {
  for (let i = 0; i < 5; i++) assert.is((await req(ctx, "GET", "/v1/domains/a/files/k", ctx.writeA)).status, 200);
  assert.is(ctx.tracker.lookups, 1, "one lookup for five requests");
  ctx.tracker.keys.get(ctx.writeA.split(":")[0])!.revoked = true;
  assert.is((await req(ctx, "GET", "/v1/domains/a/files/k", ctx.writeA)).status, 200, "cached until evicted (or its TTL)");
  ctx.auth.forgetKey(ctx.writeA.split(":")[0]);
  assert.is((await req(ctx, "GET", "/v1/domains/a/files/k", ctx.writeA)).status, 401);
});

t("gateway auth - a JSON body over the limit is 413 and never parsed", async () => {
  const ctx = makeApp({ MOGILE_HTTP_MAX_JSON_BYTES: "100" });
  const admin = ctx.tracker.addKey([], true);
  const big = JSON.stringify({ domain: "x".repeat(200) });
  let r = await ctx.app.request("/v1/rpc/create_domain", { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: big });
  assert.is(r.status, 413);
  assert.is((await r.json()).error, "payload_too_large");
  // without a declared length (streamed): counted as it arrives
  const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
  r = await ctx.app.request("/v1/rpc/create_domain", { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: stream, duplex: "half" } as RequestInit);
  assert.is(r.status, 413);
  r = await ctx.app.request("/v1/rpc/create_domain", { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ domain: "ok" }) });
  assert.is(r.status, 200);
  assert.equal(ctx.tracker.changed("create_domain").length, 1);
});

// ---- a listening server: streamed uploads and slow clients ----

async function serving(over: Record<string, string>) {
  const ctx = makeApp(over);
  const server = await listen(ctx.app, ctx.cfg);
  const port = (server.address() as net.AddressInfo).port;
  return { ...ctx, server, port, url: `http://127.0.0.1:${port}`, fetch: gatewayFetch(`http://127.0.0.1:${port}`), close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** Opens a raw socket, writes `data`, and resolves with how long until the server closed it and what it answered. */
function rawClient(port: number, data: string): Promise<{ ms: number; reply: string }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let reply = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    s.setEncoding("utf8");
    s.on("data", (c: string) => { reply += c; });
    s.on("error", () => {});
    s.on("close", () => resolve({ ms: Date.now() - t0, reply }));
    setTimeout(() => { s.destroy(); reject(new Error(`still open after 10 s; got ${JSON.stringify(reply)}`)); }, 10_000).unref();
  });
}

t("gateway limits - a client that sends half a request head is disconnected within the headers timeout", async () => {
  const s = await serving({ MOGILE_HTTP_HEADERS_TIMEOUT_MS: "600" });
  try {
    const r = await rawClient(s.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    assert.ok(r.ms >= 500 && r.ms < 1_500, `closed after ${r.ms} ms`);
    assert.match(r.reply, /^HTTP\/1\.1 408/);
  } finally {
    await s.close();
  }
});

t("gateway limits - a request that stalls mid-body is disconnected after the idle timeout; an oversized head is 431", async () => {
  const s = await serving({ MOGILE_HTTP_IDLE_TIMEOUT_MS: "700", MOGILE_HTTP_MAX_HEADER_BYTES: "2048" });
  try {
    const key = s.tracker.addKey([{ domain: "a", access: "write" }]);
    const stalled = await rawClient(s.port, `PUT /v1/domains/a/files/k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n${"x".repeat(10)}`);
    assert.ok(stalled.ms >= 600 && stalled.ms < 2_500, `closed after ${stalled.ms} ms`);
    assert.equal(s.tracker.changed("put"), [], "nothing stored");
    const big = await rawClient(s.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"y".repeat(4096)}\r\n\r\n`);
    assert.match(big.reply, /^HTTP\/1\.1 431/);
  } finally {
    await s.close();
  }
});

t("gateway limits - an upload over MOGILE_HTTP_MAX_BODY_BYTES is 413, declared or streamed; one within it is stored", async () => {
  const s = await serving({ MOGILE_HTTP_MAX_BODY_BYTES: "100000" });
  try {
    const auth = { authorization: `Bearer ${s.tracker.addKey([{ domain: "a", access: "write" }])}` };
    let r = await s.fetch(`${s.url}/v1/domains/a/files/big`, { method: "PUT", headers: auth, body: randomBytes(100_001) });
    assert.is(r.status, 413);
    assert.is((await r.json()).error, "payload_too_large");
    const chunks = [randomBytes(60_000), randomBytes(60_000)];
    const stream = new ReadableStream({ start(c) { for (const p of chunks) c.enqueue(p); c.close(); } });
    r = await s.fetch(`${s.url}/v1/domains/a/files/big`, { method: "PUT", headers: auth, body: stream, duplex: "half" } as RequestInit);
    assert.is(r.status, 413);
    assert.equal(s.tracker.changed("put"), [], "nothing stored");
    r = await s.fetch(`${s.url}/v1/domains/a/files/ok`, { method: "PUT", headers: auth, body: randomBytes(100_000) });
    assert.is(r.status, 201);
    const one = new ReadableStream({ start(c) { c.enqueue(randomBytes(50_000)); c.enqueue(randomBytes(50_000)); c.close(); } });
    r = await s.fetch(`${s.url}/v1/domains/a/files/ok2`, { method: "PUT", headers: auth, body: one, duplex: "half" } as RequestInit);
    assert.is(r.status, 201);
    assert.equal(s.tracker.changed("put").map((c) => (c.args as { length: number }).length), [100_000, 100_000]);
  } finally {
    await s.close();
  }
});

t("gateway limits - the config refuses a headers timeout above the request timeout", () => {
  assert.throws(() => Config.parse({ MOGILE_HTTP_HEADERS_TIMEOUT_MS: "5000", MOGILE_HTTP_REQUEST_TIMEOUT_MS: "1000" }));
  const d = Config.parse({});
  assert.is(d.MOGILE_HTTP_MAX_BODY_BYTES, 64 * 1024 ** 3);
  assert.is(d.MOGILE_HTTP_REQUEST_TIMEOUT_MS, 0);
});

t.run();
