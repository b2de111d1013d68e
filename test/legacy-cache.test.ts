// The legacy tracker's get_paths cache: answers reused only while nothing they depend on changed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { PathsCache } from "../actors/legacy/paths_cache.ts";
import { subjects } from "../protocol/subjects.ts";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { Tracker } from "./helpers/tracker.ts";

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

// ---------------------------------------------------------------------------------------------
// the cache alone

const unit = suite("legacy paths cache");

unit("only get_paths with noverify and the plain arguments is cacheable", () => {
  const c = new PathsCache(1000);
  assert.ok(c.slot("get_paths", { domain: "d", key: "k", noverify: "1" }));
  assert.ok(c.slot("get_paths", { domain: "d", key: "k", noverify: "1", pathcount: "3", zone: "alt" }));
  assert.is(c.slot("get_paths", { domain: "d", key: "k" }), null, "verified reads check the copy now");
  assert.is(c.slot("get_paths", { domain: "d", key: "k", noverify: "0" }), null);
  assert.is(c.slot("get_paths", { domain: "d", key: "k", noverify: "1", meta: "1" }), null);
  assert.is(c.slot("file_info", { domain: "d", key: "k", noverify: "1" }), null);
  assert.is(new PathsCache(0).slot("get_paths", { domain: "d", key: "k", noverify: "1" }), null, "0 turns it off");
  const a = c.slot("get_paths", { domain: "d", key: "k", noverify: "1", pathcount: "2" })!;
  const b = c.slot("get_paths", { domain: "d", key: "k", noverify: "1", pathcount: "3" })!;
  assert.is(a.file, b.file);
  assert.is.not(a.variant, b.variant);
});

/** a cache on a clock the test moves */
const clocked = (ttlMs = 60_000) => {
  let now = 1_000_000;
  const c = new PathsCache(ttlMs, 50_000, () => now);
  return { c, tick: (ms: number) => { now += ms; } };
};

unit("a few answers are gathered per key, then given out at random; drops and stale answers are honoured", () => {
  const { c, tick } = clocked();
  const s = c.slot("get_paths", { domain: "d", key: "k", noverify: "1" })!;
  for (let i = 0; i < 4; i++) {
    assert.is(c.get(s), undefined, `answer ${i} still gathered`);
    c.set(s, { paths: [`p${i}`] }, c.begin());
  }
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add((c.get(s) as { paths: string[] }).paths[0]);
  assert.equal([...seen].sort(), ["p0", "p1", "p2", "p3"]);
  // an answer asked for before a drop is not kept, even long after
  const token = c.begin();
  c.drop("d", "k");
  assert.is(c.get(s), undefined);
  tick(5_000);
  c.set(s, { paths: ["stale"] }, token);
  assert.is(c.size, 0);
  // nor one asked for just after a drop: the query actors may not have caught up yet
  c.drop("d", "k");
  tick(500);
  c.set(s, { paths: ["maybe stale"] }, c.begin());
  assert.is(c.size, 0, "within the settling second");
  tick(600);
  c.set(s, { paths: ["fresh"] }, c.begin());
  assert.is(c.size, 1);
  const token2 = c.begin();
  c.clear();
  tick(5_000);
  c.set(s, { paths: ["stale"] }, token2);
  assert.is(c.size, 0);
  // answers last the cache's lifetime
  for (let i = 0; i < 4; i++) c.set(s, { paths: ["fresh"] }, c.begin());
  assert.ok(c.get(s));
  tick(60_001);
  assert.is(c.get(s), undefined);
});

unit("signed URLs close to expiry are not kept; pathcount spellings share a slot; variants are bounded", () => {
  const { c } = clocked(2_000);
  const s = c.slot("get_paths", { domain: "d", key: "k", noverify: "1" })!;
  const at = (sec: number) => ({ paths: [`http://h/dev1/0/000/000/0000000001.fid?e=${Math.floor(1_000_000 / 1000) + sec}&s=x`] });
  c.set(s, at(30), c.begin());
  assert.is(c.size, 0, "expires within a minute of the cache's lifetime");
  c.set(s, at(3600), c.begin());
  assert.is(c.size, 1);
  const a = c.slot("get_paths", { domain: "d", key: "k", noverify: "1", pathcount: "2" })!;
  const b = c.slot("get_paths", { domain: "d", key: "k", noverify: "1", pathcount: "02" })!;
  assert.is(a.variant, b.variant);
  for (let i = 0; i < 20; i++) c.set(c.slot("get_paths", { domain: "d", key: "v", noverify: "1", pathcount: String(i) })!, { paths: [] }, c.begin());
  let kept = 0;
  for (let i = 0; i < 20; i++) {
    const v = c.slot("get_paths", { domain: "d", key: "v", noverify: "1", pathcount: String(i) })!;
    for (let j = 0; j < 3; j++) c.set(v, { paths: [] }, c.begin());
    if (c.get(v)) kept++;
  }
  assert.is(kept, 8);
});

unit("forwarded commands drop what they may change; events drop a file or everything", () => {
  const { c, tick } = clocked();
  const fill = (key: string) => {
    const s = c.slot("get_paths", { domain: "d", key, noverify: "1" })!;
    for (let i = 0; i < 4; i++) c.set(s, { paths: [key] }, c.begin());
    return s;
  };
  const a = fill("a");
  const b = fill("b");
  c.forwarded("get_domains", {});
  c.forwarded("file_info", { domain: "d", key: "a" });
  assert.ok(c.get(a) && c.get(b), "reads drop nothing");
  c.forwarded("delete", { domain: "d", key: "a" });
  assert.is(c.get(a), undefined);
  assert.ok(c.get(b));
  c.forwarded("rename", { domain: "d", from_key: "b", to_key: "c" });
  assert.is(c.get(b), undefined);
  tick(2_000);
  fill("a"); fill("b");
  c.forwarded("set_state", { host: "h", device: "1", state: "down" });
  assert.is(c.size, 0, "a command naming no key drops everything");
  tick(2_000);
  fill("a"); fill("b");
  c.event(subjects.keysChanged, enc({}), subjects.fileChanged, subjects.keysChanged);
  c.event(subjects.fileChanged, enc({ domain: "d", key: "a", fid: 1 }), subjects.fileChanged, subjects.keysChanged);
  assert.is(c.get(a), undefined);
  assert.ok(c.get(b));
  c.event(subjects.deviceState, enc({ devid: 1 }), subjects.fileChanged, subjects.keysChanged);
  assert.is(c.size, 0);
});

// ---------------------------------------------------------------------------------------------
// a real cluster; the cache's lifetime is a minute here, so only drops can explain fresh answers

const t = suite<{ tc: TestCluster; tr: Tracker }>("legacy paths cache (cluster)");
const D = "lcache";
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("legacy-cache", { env: { MOGILE_LEGACY_PATHS_CACHE_MS: "60000" } });
  await ctx.tc.client.createDomain(D);
  ctx.tr = await Tracker.connect(ctx.tc.cluster.legacyPort);
});
t.after(async (ctx) => { ctx.tr?.close(); await ctx.tc?.stop(); });

const paths = async (tr: Tracker, key: string) => {
  const r = await tr.call("get_paths", { domain: D, key, noverify: 1 });
  if (!r.ok) return r.code;
  return Array.from({ length: Number(r.args.paths) }, (_, i) => r.args[`path${i + 1}`]).sort();
};
const fidIn = (fid: number) => `${String(fid).padStart(10, "0")}.fid`;
const lookups = async (tc: TestCluster) => {
  const text = await (await fetch(tc.cluster.actors.find((a) => a.role === "legacy")!.metricsUrl)).text();
  const n = (result: string) => Number(new RegExp(`^mogile_legacy_paths_cache_lookups_total\\{result="${result}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { hit: n("hit"), miss: n("miss") };
};
const stored = async (tc: TestCluster, key: string) => {
  await tc.client.put(D, key, randomBytes(3000));
  return until(async () => { const i = await tc.client.fileInfo(D, key); return (i.devids?.length ?? 0) >= 2 && i; }, 30_000, `${key} at 2 copies`);
};

t("repeated reads of a key are answered from the cache", async ({ tc, tr }) => {
  const info = await stored(tc, "hot");
  // answers are not kept in the second after the file changed (its second copy's event)
  await delay(1_500);
  const before = await lookups(tc);
  for (let i = 0; i < 20; i++) {
    const p = await paths(tr, "hot");
    assert.ok(Array.isArray(p) && p.length === 2 && p.every((u) => u.includes(fidIn(info.fid))), String(p));
  }
  const after = await lookups(tc);
  assert.ok(after.hit - before.hit >= 10, `hits ${after.hit - before.hit}`);
  assert.ok(after.miss - before.miss <= 10, `misses ${after.miss - before.miss}`);
});

t("a client's own delete and rename are never answered stale", async ({ tc, tr }) => {
  await stored(tc, "mine");
  for (let i = 0; i < 6; i++) await paths(tr, "mine");
  await tr.ok("rename", { domain: D, from_key: "mine", to_key: "mine2" });
  assert.is(await paths(tr, "mine"), "unknown_key");
  for (let i = 0; i < 6; i++) assert.ok(Array.isArray(await paths(tr, "mine2")));
  await tr.ok("delete", { domain: D, key: "mine2" });
  assert.is(await paths(tr, "mine2"), "unknown_key");
});

t("a change made elsewhere reaches the cached answers through the cluster's events", async ({ tc, tr }) => {
  await stored(tc, "elsewhere");
  await stored(tc, "gone");
  for (let i = 0; i < 6; i++) { await paths(tr, "elsewhere"); await paths(tr, "gone"); }
  // overwritten through the SDK: the new version's copies are answered
  const next = await stored(tc, "elsewhere");
  await until(async () => { const p = await paths(tr, "elsewhere"); return Array.isArray(p) && p.every((u) => u.includes(fidIn(next.fid))); }, 10_000, "the new version's paths");
  // deleted through the SDK
  await tc.client.delete(D, "gone");
  await until(async () => (await paths(tr, "gone")) === "unknown_key", 10_000, "unknown_key after the delete");
});

t("a device taken down is out of the answers, and back once it is up", async ({ tc, tr }) => {
  const info = await stored(tc, "dev");
  for (let i = 0; i < 6; i++) assert.is((await paths(tr, "dev") as string[]).length, 2);
  const devid = info.devids![0];
  const host = tc.cluster.storage.find((s) => s.devids.includes(devid))!.host;
  const on = (p: string[] | string) => Array.isArray(p) && p.some((u) => u.includes(`/dev${devid}/`));
  try {
    await tc.client.rpc("set_state", { host, device: devid, state: "down" });
    await until(async () => !on(await paths(tr, "dev")), 10_000, `dev${devid} out of the answers`);
  } finally {
    await tc.client.rpc("set_state", { host, device: devid, state: "alive" });
  }
  await until(async () => on(await paths(tr, "dev")), 10_000, `dev${devid} back in the answers`);
});

unit.run();
t.run();
