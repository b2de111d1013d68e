// The classic tracker port's limits (it has no authentication): client allowlist, connection cap, idle timeout.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseAllowList, isAllowed } from "../actors/legacy/access.ts";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { Tracker } from "./helpers/tracker.ts";

// ---------------------------------------------------------------------------------------------
// the allowlist (no servers)

const access = suite("legacy access");

access("access - the default allowlist admits loopback only, IPv4, IPv6 and IPv4-mapped IPv6", () => {
  const list = parseAllowList("127.0.0.0/8,::1");
  for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "::FFFF:127.0.0.1"]) assert.ok(isAllowed(list, a), a);
  for (const a of ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "::2", "fe80::1%eth0", "", undefined]) assert.not.ok(isAllowed(list, a), String(a));
});

access("access - CIDRs and single addresses of both families; 0.0.0.0/0,::/0 admits everyone", () => {
  const list = parseAllowList(" 10.0.0.0/8 , 192.168.1.7, 2001:db8::/32 ");
  for (const a of ["10.255.0.1", "::ffff:10.1.1.1", "192.168.1.7", "2001:db8:1::5"]) assert.ok(isAllowed(list, a), a);
  for (const a of ["192.168.1.8", "127.0.0.1", "2001:db9::1", "::1"]) assert.not.ok(isAllowed(list, a), a);
  const all = parseAllowList("0.0.0.0/0,::/0");
  for (const a of ["1.2.3.4", "::ffff:8.8.8.8", "2a00::1", "::1"]) assert.ok(isAllowed(all, a), a);
});

access("access - a malformed or empty allowlist is refused rather than guessed at", () => {
  for (const bad of ["", " , ", "10.0.0.0/33", "::/129", "10.0.0/8", "localhost", "10.0.0.0/8/1", "10.0.0.0/x"]) {
    assert.throws(() => parseAllowList(bad), undefined, JSON.stringify(bad));
  }
});

access.run();

// ---------------------------------------------------------------------------------------------
// legacy actors with different limits on one cluster

type Ctx = { tc: TestCluster; defaultPort: number; restricted: number; capped: number; idle: number; open: Tracker[] };
const t = suite<Ctx>("legacy limits");

t.before(async (ctx) => {
  ctx.tc = await startTestCluster("legacy-limits", { counts: { replicator: 0, deleter: 0, reaper: 0, fsck: 0, gateway: 0 } });
  ctx.open = [];
  const c = ctx.tc.cluster;
  // each spawned legacy actor gets its own free port; cluster.legacyPort names the latest one
  ctx.defaultPort = c.legacyPort;
  await c.spawnActor("legacy", { MOGILE_LEGACY_ALLOW: "10.0.0.0/8" });
  ctx.restricted = c.legacyPort;
  await c.spawnActor("legacy", { MOGILE_LEGACY_MAX_CONNS: "2" });
  ctx.capped = c.legacyPort;
  // bound to every address, so a loopback client arrives as ::ffff:127.0.0.1 and must still count as loopback
  await c.spawnActor("legacy", { MOGILE_LEGACY_IDLE_MS: "500", MOGILE_LEGACY_BIND: "::" });
  ctx.idle = c.legacyPort;
});
t.after(async (ctx) => {
  for (const tr of ctx.open ?? []) tr.close();
  await ctx.tc?.stop();
});

async function connect(ctx: Ctx, port: number): Promise<Tracker> {
  const tr = await Tracker.connect(port, 10_000);
  ctx.open.push(tr);
  return tr;
}

t("legacy limits - by default a loopback client is served", async (ctx) => {
  const tr = await connect(ctx, ctx.defaultPort);
  assert.equal(await tr.ok("noop"), {});
  tr.close();
});

t("legacy limits - a client outside MOGILE_LEGACY_ALLOW gets ERR forbidden, is closed, and its command is not run", async (ctx) => {
  const tr = await connect(ctx, ctx.restricted);
  tr.send("create_domain domain=forbidden-dom\r\n");
  const line = await tr.next();
  assert.ok(line?.startsWith("ERR forbidden "), `got ${JSON.stringify(line)}`);
  assert.is(await tr.next(), null, "the server closed the connection");
  // the same command through a permitted port works, so the refusal above was not an accident of the command
  const ok = await connect(ctx, ctx.defaultPort);
  assert.equal(await ok.ok("create_domain", { domain: "allowed-dom" }), { domain: "allowed-dom" });
  ok.close();
  const domains = (await ctx.tc.client.getDomains()).map((d) => d.domain);
  assert.ok(domains.includes("allowed-dom"), "the permitted create_domain is applied");
  assert.not.ok(domains.includes("forbidden-dom"), "the refused create_domain is not applied");
});

t("legacy limits - with MOGILE_LEGACY_MAX_CONNS=2 two connections work and a third gets ERR busy and is closed", async (ctx) => {
  const a = await connect(ctx, ctx.capped);
  const b = await connect(ctx, ctx.capped);
  assert.equal(await a.ok("noop"), {});
  assert.equal(await b.ok("noop"), {});
  const c = await connect(ctx, ctx.capped);
  c.send("noop\r\n");
  const line = await c.next();
  assert.ok(line?.startsWith("ERR busy "), `got ${JSON.stringify(line)}`);
  assert.is(await c.next(), null, "the third connection is closed");
  // the first two are unaffected
  assert.equal(await a.ok("noop"), {});
  assert.equal(await b.ok("noop"), {});
  // a slot freed is a slot available again (once the server has seen the close)
  a.close();
  await until(async () => {
    const d = await connect(ctx, ctx.capped);
    const r = await d.raw("noop").catch(() => null);
    d.close();
    return r === "OK ";
  }, 10_000, "a new connection served after one closed");
  b.close();
});

t("legacy limits - with MOGILE_LEGACY_IDLE_MS=500 an idle connection is closed, a busy one is not", async (ctx) => {
  const idle = await connect(ctx, ctx.idle);
  assert.equal(await idle.ok("noop"), {}, "a loopback client of a dual-stack socket is allowed");
  const started = Date.now();
  // a client that keeps talking is kept past the idle time
  const active = await connect(ctx, ctx.idle);
  for (let i = 0; i < 5; i++) {
    assert.equal(await active.ok("noop"), {});
    await new Promise((r) => setTimeout(r, 200)); // pacing the client, not waiting for the server
  }
  assert.is(await idle.next(5_000), null, "the idle connection was closed");
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5_000, `closed after ${elapsed} ms`);
  assert.not.ok(active.closed, "the active connection is still open");
  assert.equal(await active.ok("noop"), {});
  active.close();
});

t.run();
