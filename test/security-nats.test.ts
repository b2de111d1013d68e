// Security suite, NATS: on a cluster with its generated users, each forbidden action is refused with
// a clear error and nothing changes (streams, heartbeats, device state, files).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createUser } from "@nats-io/nkeys";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { MogileClient, MogileError } from "../protocol/index.ts";
import { findCredentials, natsAuthOptions } from "../protocol/credentials.ts";
import { streams, subjects } from "../protocol/subjects.ts";
import { storageUser } from "../deploy/natsauth.ts";

const t = suite<{ tc: TestCluster; fid: number }>("security-nats");

t.before(async (ctx) => {
  ctx.tc = await startTestCluster("security-nats");
  await ctx.tc.client.createDomain("sec");
  ctx.fid = (await ctx.tc.client.put("sec", "kept", "precious bytes")).fid;
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

/** A raw connection as one of the cluster's users (or with explicit options). */
async function as(tc: TestCluster, user: string): Promise<NatsConnection> {
  const creds = findCredentials({ nkeyFile: tc.cluster.credsFile(user) }, user);
  return connect({ servers: tc.cluster.natsUrl.split(","), name: `sec-${user}`, ...natsAuthOptions(creds) });
}

/** Runs `fn` and returns the permission violation the server reported for this connection. */
async function violation(nc: NatsConnection, fn: () => Promise<unknown> | unknown): Promise<string> {
  const seen = (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error" && /permissions violation/i.test(String(s.error?.message))) return String(s.error.message);
    }
    return "";
  })();
  let thrown = "";
  try { await fn(); await nc.flush(); } catch (err) { thrown = String((err as Error).message); }
  if (/permissions violation/i.test(thrown)) return thrown;
  const timeout = new Promise<string>((r) => setTimeout(() => r(""), 3_000));
  return Promise.race([seen, timeout]);
}

/** Subscribes and returns the error the server closed the subscription with ("" if it stayed open). */
async function refusedSubscription(nc: NatsConnection, subject: string, queue?: string): Promise<string> {
  const sub = nc.subscribe(subject, { queue });
  const closed = await Promise.race([sub.closed.then((e) => String((e as Error | undefined)?.message ?? "closed")), new Promise<string>((r) => setTimeout(() => r(""), 3_000))]);
  sub.unsubscribe();
  return closed;
}

const streamMessages = async (tc: TestCluster, name: string) =>
  (await (await jetstreamManager(tc.client.nc)).streams.info(name)).state.messages;

t("a connection without credentials is refused, and the SDK says what to do", async ({ tc }) => {
  const err = await connect({ servers: tc.cluster.natsUrl, timeout: 3_000 }).then(
    (nc) => { void nc.close(); return null; },
    (e: Error) => e,
  );
  assert.ok(err && /authorization violation/i.test(err.message), String(err?.message));
  const sdk = await MogileClient.connect({ servers: tc.cluster.natsUrl, dataDir: "/nonexistent" }).then(
    (c) => { void c.close(); return null; },
    (e: Error) => e,
  );
  assert.ok(sdk, "an SDK client without credentials must not connect");
  assert.match(sdk!.message, /refused no credentials/);
  assert.match(sdk!.message, /MOGILE_NATS_NKEY/);
});

t("a seed that is not one of the cluster's users is refused", async ({ tc }) => {
  const file = path.join(tc.dataDir, "stranger.nk");
  writeFileSync(file, new TextDecoder().decode(createUser().getSeed()), { mode: 0o600 });
  const err = await MogileClient.connect({ servers: tc.cluster.natsUrl, nkeyFile: file }).then(
    (c) => { void c.close(); return null; },
    (e: Error) => e,
  );
  assert.ok(err);
  assert.match(err!.message, /refused user stranger/);
});

t("the app user may not publish delete jobs, purge streams, serve commands or fake heartbeats", async ({ tc, fid }) => {
  const app = await as(tc, "app");
  try {
    const deletes = await streamMessages(tc, streams.delete);
    const v1 = await violation(app, () => app.publish(subjects.deleteJob, JSON.stringify({ fid, devids: [1, 2, 3, 4, 5, 6], reason: "delete" })));
    assert.match(v1, /mogile\.job\.delete/);
    const v2 = await violation(app, async () => (await jetstreamManager(app, { checkAPI: false })).streams.purge(streams.replicate));
    assert.match(v2, /STREAM\.PURGE/);
    // serving the tracker's subjects: the subscription is refused
    const v3 = await refusedSubscription(app, subjects.rpc("get_paths"), "mogile-query");
    assert.match(v3, /mogile\.rpc\.get_paths/);
    const v4 = await violation(app, () => app.publish(subjects.heartbeat(1, 1), JSON.stringify({ hostid: 1, devid: 1, writable: false })));
    assert.match(v4, /mogile\.hb\.1\.1/);
    // another user's replies
    const v5 = await refusedSubscription(app, "_INBOX_admin.>");
    assert.match(v5, /_INBOX_admin/);
    assert.is(await streamMessages(tc, streams.delete), deletes, "no delete job was queued");
  } finally {
    await app.close();
  }
  // the real tracker still answers, and the file is whole
  const got = await tc.client.get("sec", "kept");
  let body = "";
  for await (const c of got.body) body += c;
  assert.is(body, "precious bytes");
});

t("the app user calls file commands but not admin commands", async ({ tc }) => {
  const app = await MogileClient.connect({ servers: tc.cluster.natsUrl, nkeyFile: tc.cluster.credsFile("app") });
  try {
    await app.put("sec", "by-app", "hello");
    assert.ok((await app.getPaths("sec", "by-app")).paths.length >= 1);
    const before = (await tc.client.getDevices(1))[0].status;
    const err = await app.setState("host1", 1, "dead").then(() => null, (e: MogileError) => e);
    assert.ok(err instanceof MogileError, "set_state as app must fail");
    assert.is(err!.code, "permission_denied");
    assert.is((await tc.client.getDevices(1))[0].status, before, "device state unchanged");
    const reg = await app.rpc("register_storage", { host: "host1", ip: "10.9.9.9", port: 1, devids: [1] }).then(() => null, (e: MogileError) => e);
    assert.is(reg?.code, "permission_denied");
    const h = (await tc.client.getHosts()).find((x) => x.hostname === "host1")!;
    assert.is(h.hostip, "127.0.0.1", "host address unchanged");
  } finally {
    await app.close();
  }
});

t("a storage host publishes only its own heartbeats and answers only its own requests", async ({ tc }) => {
  const hosts = await tc.client.getHosts();
  const h1 = hosts.find((h) => h.hostname === "host1")!;
  const h2 = hosts.find((h) => h.hostname === "host2")!;
  const nc = await as(tc, storageUser(h1.hostid));
  try {
    const dev2 = tc.cluster.storage.find((s) => s.host === "host2")!.devids[0];
    const fake = { hostid: h2.hostid, devid: dev2, host: "host2", url: "http://127.0.0.1:1", total: 1, used: 1, free: 0, ts: Date.now(), writable: false, mounted: true };
    const v = await violation(nc, () => nc.publish(subjects.heartbeat(h2.hostid, dev2), JSON.stringify(fake)));
    assert.match(v, new RegExp(`mogile\\.hb\\.${h2.hostid}\\.${dev2}`));
    const v2 = await refusedSubscription(nc, subjects.storage(h2.hostid, "fetch"));
    assert.match(v2, /fetch/);
    const v3 = await violation(nc, () => nc.publish(subjects.rpc("set_state"), "{}"));
    assert.match(v3, /set_state/);
  } finally {
    await nc.close();
  }
  // host2's device is still seen writeable (its real heartbeats keep coming)
  await new Promise((r) => setTimeout(r, 1_500));
  const d = (await tc.client.getDevices()).find((x) => x.hostid === h2.hostid)!;
  assert.is(d.observed_state, "writeable");
});

t("job consumers are confined to their own queue; only the operator deletes streams", async ({ tc }) => {
  const deleter = await as(tc, "deleter");
  const admin = await as(tc, "admin");
  try {
    const v = await violation(deleter, () => deleter.publish(`$JS.API.CONSUMER.MSG.NEXT.${streams.replicate}.replicator`, "{}"));
    assert.match(v, /MOGILE_REPLICATE/);
    const v2 = await violation(admin, async () => (await jetstreamManager(admin, { checkAPI: false })).streams.delete(streams.delete));
    assert.match(v2, /STREAM\.DELETE/);
    assert.ok(await streamMessages(tc, streams.delete) >= 0, "the delete stream still exists");
  } finally {
    await deleter.close();
    await admin.close();
  }
});

t("the classic protocol's user may not manage gateway keys", async ({ tc }) => {
  const legacy = await MogileClient.connect({ servers: tc.cluster.natsUrl, nkeyFile: tc.cluster.credsFile("legacy") });
  try {
    const err = await legacy.rpc("key_list", {}).then(() => null, (e: MogileError) => e);
    assert.is(err?.code, "permission_denied");
    assert.ok((await legacy.getDomains()).length >= 1, "other commands still work");
  } finally {
    await legacy.close();
  }
});

t("the ops user watches heartbeats and events but changes nothing", async ({ tc }) => {
  const ops = await as(tc, "ops");
  try {
    const sub = ops.subscribe(subjects.heartbeatAll, { max: 1 });
    const got = await until(async () => { for await (const m of sub) return m.subject; return null; }, 10_000, "a heartbeat");
    assert.match(got, /^mogile\.hb\./);
    const v = await violation(ops, () => ops.publish(subjects.rpc("create_domain"), JSON.stringify({ domain: "ops-made" })));
    assert.match(v, /create_domain/);
    const jsm = await jetstreamManager(ops);
    assert.ok((await jsm.streams.info(streams.replicate)).config.name === streams.replicate, "ops reads stream info");
  } finally {
    await ops.close();
  }
  assert.not.ok((await tc.client.getDomains()).some((d) => d.domain === "ops-made"));
});

t.run();
