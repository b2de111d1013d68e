// The live dashboard (GET /ui): in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real cluster — the page loads under its strict CSP, shows the cluster's
// hosts and devices once a key is entered, follows a device marked down without a reload, and looks
// up a key's copies and why each is where it is. Screenshots are kept under
// var/test-artifacts/dashboard/ (or $MOGILE_TEST_ARTIFACTS). Then, in-process, the event stream's
// bounds: a cap on streams, and a stream that ends drops its listener and its NATS subscriptions.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { bearer } from "./helpers/gateway.ts";
import { REPO } from "../deploy/services.ts";
import type { MogileClient } from "../protocol/client.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { createApp } from "../actors/gateway/app.ts";
import { Authenticator } from "../actors/gateway/auth.ts";
import { DashboardHub } from "../actors/gateway/dashboard.ts";
import { subjects } from "../protocol/subjects.ts";

const CHROMIUM = process.env.MOGILE_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = process.env.MOGILE_TEST_ARTIFACTS ?? path.join(REPO, "var", "test-artifacts", "dashboard");
const D = "dash";
const KEY = "photos/cat.jpg";

interface Ctx { tc: TestCluster; browser: BrowserContext; page: Page; profile: string; setupError: unknown; offsite: string[] }
const t = suite<Ctx>("dashboard");

t.before(async (ctx) => {
  // uvu swallows a before-hook's error (the suite would pass with nothing run): keep it for the tests
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (\`bash deploy/setup.sh test\` does, as root or with sudo) or set MOGILE_CHROMIUM`);
    }
    ctx.tc = await startTestCluster("dashboard");
    await ctx.tc.client.createDomain(D);
    await ctx.tc.client.put(D, KEY, randomBytes(20_000));
    ctx.profile = mkdtempSync(path.join(tmpdir(), "mogile-chromium-"));
    ctx.browser = await chromium.launchPersistentContext(ctx.profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    ctx.page = ctx.browser.pages()[0] ?? await ctx.browser.newPage();
    ctx.offsite = [];
    const base = ctx.tc.cluster.httpUrl;
    ctx.page.on("request", (r) => { if (!r.url().startsWith(base + "/") && !r.url().startsWith("data:")) ctx.offsite.push(r.url()); });
    mkdirSync(ARTIFACTS, { recursive: true });
    process.stderr.write(`\n[dashboard] screenshots in ${ARTIFACTS}\n`);
  } catch (err) {
    process.stderr.write(`\n[dashboard] setup failed: ${(err as Error)?.stack ?? err}\n`);
    ctx.setupError = err;
  }
});
t.after(async (ctx) => {
  await ctx.browser?.close().catch(() => {});
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
  await ctx.tc?.stop();
});

const ready = (ctx: Ctx) => { if (ctx.setupError) throw ctx.setupError; };
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

t("dashboard - the page is open and self-contained under a strict CSP; its data needs a cluster-admin key", async (ctx) => {
  ready(ctx);
  const base = ctx.tc.cluster.httpUrl;
  const res = await fetch(`${base}/ui`);
  assert.is(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'sha256-/);
  assert.not.match(csp, /unsafe-inline/);
  assert.not.match(await res.text(), /https?:\/\/(?!localhost)/, "no outside URL in the page");
  assert.is((await fetch(`${base}/ui/api/state`)).status, 401);
  assert.is((await fetch(`${base}/ui/api/events`)).status, 401);
  const state = await (await fetch(`${base}/ui/api/state`, { headers: bearer(ctx.tc.cluster.adminKey) })).json() as { devices: unknown[]; hosts: unknown[] };
  assert.ok(state.devices.length > 0 && state.hosts.length > 0);
});

t("dashboard - after the key is entered the page shows the test cluster's hosts and devices, live", async (ctx) => {
  ready(ctx);
  const { page, tc } = ctx;
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${tc.cluster.httpUrl}/ui`);
  await page.locator("#key").waitFor({ state: "visible", timeout: 10_000 });
  await shot(page, "login");
  await page.fill("#key", tc.cluster.adminKey);
  await page.click("#login-form button");
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
  const { hosts } = await tc.client.rpc("get_hosts", {});
  const { devices } = await tc.client.rpc("get_devices", {});
  for (const h of hosts) await page.locator(`#hosts section[data-hostname="${h.hostname}"]`).waitFor({ timeout: 15_000 });
  await until(async () => (await page.locator("#hosts tr.dev").count()) === devices.length, 15_000, "a row per device");
  for (const d of devices) {
    const row = page.locator(`#hosts tr.dev[data-devid="${d.devid}"]`);
    assert.is(await row.getAttribute("data-status"), d.status);
  }
  // usage from heartbeats: every device gets its bar, and the monitor's observed state
  await until(async () => (await page.locator("#hosts tr.dev .bar").count()) === devices.length, 30_000, "usage bars");
  await until(async () => (await page.locator('#hosts tr.dev[data-observed="writeable"]').count()) === devices.length, 30_000, "observed writeable");
  assert.match(await page.locator("#c-files .v").innerText(), /^[1-9]/, "the stored file is counted");
  await until(async () => (await page.locator("#procs .b").count()) > 5, 15_000, "the processes that answer the metrics scrape");
  await shot(page, "hosts");
  assert.equal(errors, [], "no script errors, no CSP violations");
  assert.equal(ctx.offsite, [], "nothing fetched from anywhere but the gateway");
});

t("dashboard - a device marked down shows as down without a reload, and the change is listed as an event", async (ctx) => {
  ready(ctx);
  const { page, tc } = ctx;
  const { devices } = await tc.client.rpc("get_devices", {});
  const { hosts } = await tc.client.rpc("get_hosts", {});
  const dev = devices.at(-1)!;
  const host = hosts.find((h) => h.hostid === dev.hostid)!;
  // a mark that a reload would lose
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
  const row = page.locator(`#hosts tr.dev[data-devid="${dev.devid}"]`);
  assert.is(await row.getAttribute("data-status"), "alive");
  const t0 = Date.now();
  await tc.client.rpc("set_state", { host: host.hostname, device: dev.devid, state: "down" });
  await page.locator(`#hosts tr.dev[data-devid="${dev.devid}"][data-status="down"]`).waitFor({ timeout: 30_000 });
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 30, `updated in ${seconds} s`);
  assert.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, "the page was not reloaded");
  await page.locator('#events li[data-kind="admin"]').first().waitFor({ timeout: 10_000 });
  await shot(page, "device-down");
  await tc.client.rpc("set_state", { host: host.hostname, device: dev.devid, state: "alive" });
  await page.locator(`#hosts tr.dev[data-devid="${dev.devid}"][data-status="alive"]`).waitFor({ timeout: 30_000 });
});

t("dashboard - a device the monitor observes as readable only shows so live, from its heartbeats and the monitor's event", async (ctx) => {
  ready(ctx);
  const { page, tc } = ctx;
  const host = tc.cluster.storage[0];
  const devid = host.devids[0];
  // the device stays mounted; only its probe directory cannot be written (as in monitor.test.ts)
  const dir = path.join(host.root, `dev${devid}`, "test-write");
  await until(() => { rmSync(dir, { recursive: true, force: true }); writeFileSync(dir, "not a directory"); return true; }, 5_000, "probe directory replaced by a file");
  try {
    await page.locator(`#hosts tr.dev[data-devid="${devid}"][data-observed="readable"]`).waitFor({ timeout: 30_000 });
    await page.locator(`#events li[data-kind="observed"][data-devid="${devid}"]`).filter({ hasText: `on ${host.host} observed writeable → readable` }).first().waitFor({ timeout: 10_000 });
    await shot(page, "device-readable");
  } finally {
    rmSync(dir);
  }
  await page.locator(`#hosts tr.dev[data-devid="${devid}"][data-observed="writeable"]`).waitFor({ timeout: 30_000 });
});

t("dashboard - a key lookup shows the file's copies and why each is where it is", async (ctx) => {
  ready(ctx);
  const { page, tc } = ctx;
  const info = await tc.client.fileInfo(D, KEY);
  await page.fill("#lk-domain", D);
  await page.fill("#lk-key", KEY);
  await page.click("#lookup button");
  await page.locator("#copies tr.copy").first().waitFor({ timeout: 15_000 });
  const shown = await page.locator("#copies tr.copy").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-devid"))));
  assert.equal(shown.sort((a, b) => a - b), [...info.devids!].sort((a, b) => a - b), "one row per copy");
  for (const devid of shown) {
    const why = await page.locator(`#copies tr.copy[data-devid="${devid}"] td.why`).innerText();
    assert.match(why, /create_open|chain|replicate|restore|drain|rebalance|fsck/, `dev${devid}: ${why}`);
  }
  await page.locator("#explain").scrollIntoViewIfNeeded();
  await shot(page, "lookup");
  // a key that does not exist says so
  await page.fill("#lk-key", "no/such/key");
  await page.click("#lookup button");
  await page.locator("#explain .err").waitFor({ timeout: 10_000 });
});

t.run();

// ---- in-process: the event stream's bounds (no cluster; a fake tracker and event feed) ----

const s = suite("dashboard-stream");

function fakeApp(maxStreams: number) {
  const tracker = {
    rpc: async (command: string) => {
      switch (command) {
        case "key_lookup": return { id: "MKTEST", cluster_admin: true, scopes: [], revoked: false, verifier: "x" };
        case "get_hosts": return { hosts: [] };
        case "get_devices": return { devices: [] };
        default: throw new Error(`no ${command} here`);
      }
    },
  };
  let subscribed = 0;
  let push: ((subject: string, data: Uint8Array) => void) | null = null;
  const hub = new DashboardHub(tracker as unknown as Pick<MogileClient, "rpc">, undefined, (names, cb) => {
    subscribed += names.length;
    push = cb;
    return () => { subscribed -= names.length; push = null; };
  }, { maxStreams, refreshMs: 60_000, debounceMs: 10 });
  const auth = new Authenticator(tracker as unknown as Pick<MogileClient, "rpc">, { clusterKey: randomBytes(32), keyCacheMs: 60_000, domainCacheMs: 0 });
  // accept any secret for the fake key: the stream is what is under test here
  (auth as unknown as { principal: () => Promise<unknown> }).principal = async () => ({ kind: "key", id: "MKTEST", cluster_admin: true, scopes: [] });
  const app = createApp(tracker as unknown as MogileClient, createLogger({ role: "test" }, "error"), { auth, dashboard: hub, limits: { maxBodyBytes: 1 << 20, maxJsonBytes: 1 << 16 } });
  return { app, hub, subscribed: () => subscribed, push: (subject: string, body: object) => push?.(subject, new TextEncoder().encode(JSON.stringify(body))) };
}

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, re: RegExp, ms = 5_000): Promise<string> {
  let text = "";
  const deadline = Date.now() + ms;
  while (!re.test(text)) {
    if (Date.now() > deadline) throw new Error(`no ${re} in ${JSON.stringify(text)}`);
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended without ${re}`);
    text += new TextDecoder().decode(value);
  }
  return text;
}

s("dashboard - an event stream sends snapshots and events, at most maxStreams are open, and a closed one unsubscribes", async () => {
  const f = fakeApp(2);
  const headers = { authorization: "Bearer MKTEST:secret" };
  const a = await f.app.request("/ui/api/events", { headers });
  assert.is(a.status, 200);
  assert.match(a.headers.get("content-type") ?? "", /^text\/event-stream/);
  const ra = a.body!.getReader();
  const first = await readUntil(ra, /event: state\ndata: \{.*"devices":\[\]/);
  assert.match(first, /"errors":\["stats: no stats here"/, "a part that fails is named, the rest still sent");
  assert.is(f.subscribed(), 5, "subscribed while a stream is open");
  f.push(subjects.deviceState, { devid: 7, hostid: 2, from: "writeable", to: "unreachable", at: 1 });
  assert.match(await readUntil(ra, /event: event/), /device 7 \(host 2\) observed writeable → unreachable/);
  const b = await f.app.request("/ui/api/events", { headers });
  assert.is(b.status, 200);
  const c = await f.app.request("/ui/api/events", { headers });
  assert.is(c.status, 503, "a third stream is refused");
  assert.is(f.hub.streams, 2);
  await ra.cancel();
  await b.body!.cancel();
  assert.is(f.hub.streams, 0, "closed streams leave the hub");
  assert.is(f.subscribed(), 0, "no stream, no NATS subscription");
  // a new stream gets the recent events first
  const d = await f.app.request("/ui/api/events", { headers });
  const rd = d.body!.getReader();
  assert.match(await readUntil(rd, /event: event/), /device 7/);
  f.hub.close();
  assert.is(f.hub.streams, 0);
  assert.is(f.subscribed(), 0);
});

s("dashboard - a client that goes away ends its stream on the real HTTP server (node-server cancels the body)", async () => {
  const f = fakeApp(4);
  const server = serve({ fetch: f.app.fetch, port: 0, hostname: "127.0.0.1" });
  try {
    await new Promise<void>((r) => server.listening ? r() : server.once("listening", () => r()));
    const port = (server.address() as AddressInfo).port;
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/ui/api/events`, { headers: { authorization: "Bearer MKTEST:secret" }, signal: ac.signal });
    assert.is(res.status, 200);
    await readUntil(res.body!.getReader(), /event: state/);
    assert.is(f.hub.streams, 1);
    assert.is(f.subscribed(), 5);
    ac.abort();
    await until(() => f.hub.streams === 0, 5_000, "the stream to leave the hub");
    assert.is(f.subscribed(), 0, "its NATS subscriptions ended with it");
  } finally {
    f.hub.close();
    await new Promise((r) => server.close(r));
  }
});

s.run();
