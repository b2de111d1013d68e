// Integration: gateway keys on a real cluster — the first admin key, scopes, revocation, anonymous
// read, encrypted storage, and `mogile key add|list|revoke`.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { bearer, gatewayFetch, keyFetch } from "./helpers/gateway.ts";
import { REPO } from "../deploy/services.ts";
import { openStore, type Store } from "../actors/runtime/mongo.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { clusterKey } from "../actors/runtime/secrets.ts";
import { openSecret, type KeyDoc } from "../actors/runtime/keys.ts";
import { MogileError } from "../protocol/errors.ts";

const A = "keys-a";
const B = "keys-b";
const t = suite<{ tc: TestCluster; url: string; admin: typeof fetch; store: Store }>("gateway-keys");
/** plain fetch (no key) whose responses from the gateway are checked against its /v1/openapi.json */
let fetch: typeof globalThis.fetch = globalThis.fetch;
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("gateway-keys");
  ctx.url = ctx.tc.cluster.httpUrl;
  fetch = gatewayFetch(ctx.url);
  ctx.admin = keyFetch(ctx.url, ctx.tc.cluster.adminKey);
  ctx.store = await openStore(ctx.tc.cluster.mongoUrl, ctx.tc.cluster.db, createLogger({ role: "test" }, "error"));
  for (const d of [A, B]) assert.is((await ctx.admin(`${ctx.url}/v1/domains`, json({ domain: d }))).status, 201);
});
t.after(async (ctx) => {
  await ctx.store?.close();
  await ctx.tc?.stop();
});

const json = (body: unknown, headers: Record<string, string> = {}) =>
  ({ method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const file = (url: string, domain: string, key: string) => `${url}/v1/domains/${domain}/files/${encodeURIComponent(key)}`;

/** a new key through POST /v1/rpc/key_add with the admin key: `<id>:<secret>` */
async function addKey(ctx: { url: string; admin: typeof fetch }, body: Record<string, unknown>): Promise<string> {
  const r = await ctx.admin(`${ctx.url}/v1/rpc/key_add`, json(body));
  const reply = await r.json();
  assert.is(r.status, 200, JSON.stringify(reply));
  return `${reply.id}:${reply.secret}`;
}
const exists = async (tc: TestCluster, domain: string, key: string) =>
  tc.client.fileInfo(domain, key).then(() => true, (err) => { if (err instanceof MogileError && err.code === "unknown_key") return false; throw err; });

t("gateway keys - the first admin key was created at first start, kept in <data dir>/secrets/admin.key (0600), and works", async ({ tc, url }) => {
  const keyFile = path.join(tc.dataDir, "secrets", "admin.key");
  assert.is(tc.cluster.adminKeyFile, keyFile);
  assert.ok(tc.cluster.adminKeyCreated);
  assert.is(tc.cluster.adminKeyProblem, null);
  assert.is(readFileSync(keyFile, "utf8").trim(), tc.cluster.adminKey);
  assert.is(statSync(keyFile).mode & 0o777, 0o600);
  assert.match(tc.cluster.adminKey, /^MK[A-Z2-7]{18}:[A-Za-z0-9_-]{40}$/);
  const keys = await tc.client.listKeys();
  const mine = keys.find((k) => k.id === tc.cluster.adminKey.split(":")[0]);
  assert.ok(mine?.cluster_admin, "listed as a cluster-admin key");
  assert.is((await fetch(`${url}/v1/stats`, { headers: bearer(tc.cluster.adminKey) })).status, 200);
});

t("gateway keys - without a key: 401 with WWW-Authenticate: Bearer, and nothing changes", async ({ tc, url }) => {
  const attempts = [
    await fetch(file(url, A, "nokey"), { method: "PUT", body: "x" }),
    await fetch(`${url}/v1/domains`, json({ domain: "nokey-domain" })),
    await fetch(`${url}/v1/rpc/create_domain`, json({ domain: "nokey-domain" })),
    await fetch(`${url}/v1/rpc/set_state`, json({ host: "host1", device: 1, state: "dead" })),
    await fetch(file(url, A, "nokey"), { method: "PUT", body: "x", headers: bearer("MKAAAAAAAAAAAAAAAAAA:" + "x".repeat(40)) }),
  ];
  for (const r of attempts) {
    assert.is(r.status, 401);
    assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.is((await r.json()).error, "unauthorized");
  }
  assert.not.ok(await exists(tc, A, "nokey"));
  assert.not.ok((await tc.client.getDomains()).some((d) => d.domain === "nokey-domain"));
  assert.is((await tc.client.getDevices(1))[0].status, "alive");
});

t("gateway keys - a read key reads but cannot write: 403 and nothing is stored", async (ctx) => {
  const { tc, url, admin } = ctx;
  assert.is((await admin(file(url, A, "readable"), { method: "PUT", body: "hello" })).status, 201);
  const read = await addKey(ctx, { name: "reader", scopes: [{ domain: A, access: "read" }] });
  let r = await fetch(file(url, A, "readable"), { headers: bearer(read) });
  assert.is(r.status, 200);
  assert.is(await r.text(), "hello");
  r = await fetch(`${url}/v1/domains/${A}/files?prefix=read`, { headers: bearer(read) });
  assert.equal((await r.json()).keys, ["readable"]);

  const refused = [
    await fetch(file(url, A, "written"), { method: "PUT", body: "x", headers: bearer(read) }),
    await fetch(file(url, A, "readable"), { method: "DELETE", headers: bearer(read) }),
    await fetch(`${url}/v1/rpc/create_open`, json({ domain: A, key: "written" }, bearer(read))),
    await fetch(`${url}/v1/rpc/delete`, json({ domain: A, key: "readable" }, bearer(read))),
  ];
  for (const r of refused) {
    assert.is(r.status, 403);
    assert.is((await r.json()).error, "forbidden");
  }
  assert.not.ok(await exists(tc, A, "written"));
  assert.ok(await exists(tc, A, "readable"));
});

t("gateway keys - a key for domain A is refused on domain B (403)", async (ctx) => {
  const { tc, url } = ctx;
  const app = await addKey(ctx, { name: "app", scopes: [{ domain: A, access: "write" }] });
  assert.is((await fetch(file(url, A, "mine"), { method: "PUT", body: "a", headers: bearer(app) })).status, 201);
  assert.is((await fetch(file(url, B, "theirs"), { method: "PUT", body: "b", headers: bearer(app) })).status, 403);
  assert.is((await fetch(file(url, B, "theirs"), { headers: bearer(app) })).status, 403);
  assert.is((await fetch(`${url}/v1/rpc/list_keys`, json({ domain: B }, bearer(app)))).status, 403);
  assert.not.ok(await exists(tc, B, "theirs"));
  assert.ok(await exists(tc, A, "mine"));
});

t("gateway keys - an app key calling admin commands through /v1/rpc gets 403 and nothing changes", async (ctx) => {
  const { tc, url } = ctx;
  const app = await addKey(ctx, { name: "app", scopes: [{ domain: A, access: "write" }] });
  const hostsBefore = await tc.client.getHosts();
  const adminKeysBefore = (await tc.client.listKeys()).filter((k) => k.cluster_admin).length;
  const calls: [string, unknown][] = [
    ["set_state", { host: "host1", device: 1, state: "dead" }],
    ["register_storage", { host: "rogue", ip: "10.9.9.9", port: 9999, devids: [77] }],
    ["create_domain", { domain: "rogue" }],
    ["key_add", { cluster_admin: true }],
    ["set_server_setting", { key: "memcache_ttl", value: "1" }],
  ];
  for (const [command, args] of calls) {
    const r = await fetch(`${url}/v1/rpc/${command}`, json(args, bearer(app)));
    assert.is(r.status, 403, command);
  }
  assert.is((await fetch(`${url}/v1/devices/1`, { method: "PATCH", headers: { ...bearer(app), "content-type": "application/json" }, body: JSON.stringify({ state: "dead" }) })).status, 403);
  assert.is((await tc.client.getDevices(1))[0].status, "alive");
  assert.equal((await tc.client.getHosts()).map((h) => h.hostname), hostsBefore.map((h) => h.hostname));
  assert.not.ok((await tc.client.getDomains()).some((d) => d.domain === "rogue"));
  assert.is(await tc.client.serverSetting("memcache_ttl"), "");
  assert.is((await tc.client.listKeys()).filter((k) => k.cluster_admin).length, adminKeysBefore, "no cluster-admin key was made");
});

t("gateway keys - a revoked key is refused (401) within a few seconds", async (ctx) => {
  const { tc, url } = ctx;
  const app = await addKey(ctx, { name: "soon revoked", scopes: [{ domain: A, access: "write" }] });
  assert.is((await fetch(file(url, A, "before-revoke"), { method: "PUT", body: "1", headers: bearer(app) })).status, 201);
  const t0 = Date.now();
  const revoked = await tc.client.revokeKey(app.split(":")[0]);
  assert.ok(revoked.revoked);
  await until(async () => (await fetch(file(url, A, "before-revoke"), { headers: bearer(app) })).status === 401, 5_000, "401 after revocation");
  const ms = Date.now() - t0;
  assert.ok(ms < 5_000, `refused after ${ms} ms`);
  assert.is((await fetch(file(url, A, "after-revoke"), { method: "PUT", body: "2", headers: bearer(app) })).status, 401);
  assert.not.ok(await exists(tc, A, "after-revoke"));
  assert.ok((await tc.client.listKeys({ includeRevoked: true })).some((k) => k.id === revoked.id && k.revoked));
  assert.not.ok((await tc.client.listKeys()).some((k) => k.id === revoked.id), "revoked keys are left out by default");
});

t("gateway keys - anonymous read is off by default, and on for a domain once its anonymous_read is set", async ({ tc, url, admin }) => {
  assert.is((await admin(file(url, B, "public"), { method: "PUT", body: "for all" })).status, 201);
  assert.is((await fetch(file(url, B, "public"))).status, 401);
  let r = await admin(`${url}/v1/rpc/update_domain`, json({ domain: B, anonymous_read: true }));
  assert.is(r.status, 200, await r.text());
  const body = await until(async () => {
    const res = await fetch(file(url, B, "public"));
    return res.status === 200 && (await res.text());
  }, 5_000, "anonymous read allowed");
  assert.is(body, "for all");
  assert.is((await fetch(file(url, B, "public"), { method: "PUT", body: "mine now" })).status, 401, "writes still need a key");
  assert.is((await fetch(file(url, B, "public"), { method: "DELETE" })).status, 401);
  assert.is((await fetch(file(url, A, "readable"))).status, 401, "other domains stay closed");
  assert.ok(await exists(tc, B, "public"));
  r = await admin(`${url}/v1/rpc/update_domain`, json({ domain: B, anonymous_read: false }));
  assert.is(r.status, 200);
  await until(async () => (await fetch(file(url, B, "public"))).status === 401, 5_000, "anonymous read off again");
});

t("gateway keys - secrets are stored only encrypted, and key_list never shows one", async (ctx) => {
  const { tc, store } = ctx;
  const made = await tc.client.addKey({ name: "sdk key", scopes: [{ domain: A, access: "read" }] });
  assert.match(made.secret, /^[A-Za-z0-9_-]{40}$/);
  const raw = (await store.collection<KeyDoc>("keys").find({}).toArray());
  const text = JSON.stringify(raw);
  for (const secret of [made.secret, tc.cluster.adminKey.split(":")[1]]) {
    assert.not.ok(text.includes(secret), "a secret in clear in the keys collection");
    assert.not.ok(text.includes(Buffer.from(secret).toString("base64")), "a secret merely encoded");
  }
  const doc = raw.find((d) => d._id === made.id)!;
  assert.is(openSecret(clusterKey({ MOGILE_CLUSTER_KEY_FILE: path.join(tc.dataDir, "secrets", "cluster.key") }), made.id, doc.secret_sealed), made.secret, "recoverable with the cluster key (S3 signatures)");
  const listed = JSON.stringify(await tc.client.rpc("key_list", { include_revoked: true }));
  assert.not.ok(listed.includes(made.secret));
  assert.not.ok(/secret|verifier/.test(listed), listed.slice(0, 200));
  const viaHttp = await (await ctx.admin(`${ctx.url}/v1/rpc/key_list`, json({}))).text();
  assert.not.ok(/secret|verifier/.test(viaHttp));
});

function mogile(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(REPO, "bin", "mogile.js"), ...args], { cwd: REPO, env: { ...process.env, FORCE_COLOR: "0", ...env } });
    let stdout = "", stderr = "";
    proc.stdout.on("data", (c) => { stdout += c; });
    proc.stderr.on("data", (c) => { stderr += c; });
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

t("gateway keys - mogile key add, list and revoke", async ({ tc, url }) => {
  const env = { MOGILE_NATS_URL: tc.cluster.natsUrl, MOGILE_DATA_DIR: tc.dataDir };
  const add = await mogile(["key", "add", "--domain", A, "--access", "write", "--name", "cli app", "--json"], env);
  assert.is(add.code, 0, add.stderr);
  const made = JSON.parse(add.stdout);
  assert.equal(made.scopes, [{ domain: A, access: "write" }]);
  const key = `${made.id}:${made.secret}`;
  assert.is((await fetch(file(url, A, "from-cli-key"), { method: "PUT", body: "c", headers: bearer(key) })).status, 201);

  const list = await mogile(["key", "list", "--domain", A], env);
  assert.is(list.code, 0, list.stderr);
  assert.match(list.stdout, made.id);
  assert.match(list.stdout, `${A}:write`);
  assert.not.ok(list.stdout.includes(made.secret));

  const usage = await mogile(["key", "add", "--domain", A], env);
  assert.is(usage.code, 2, "--domain without --access is a usage error");

  const revoke = await mogile(["key", "revoke", made.id], env);
  assert.is(revoke.code, 0, revoke.stderr);
  await until(async () => (await fetch(file(url, A, "from-cli-key"), { headers: bearer(key) })).status === 401, 5_000, "revoked key refused");
  const again = await mogile(["key", "revoke", "MKAAAAAAAAAAAAAAAAAA"], env);
  assert.is(again.code, 1);
  assert.match(again.stderr, /unknown_access_key/);
});

t.run();
