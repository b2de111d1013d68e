// Integration: explain says, for each copy of a file, the decision that put it there (create_open's
// draw, the PUT's chain, the replicator, a drain, a restore after a dead device), "no record" for
// files stored before placements were recorded, and whether the file meets its policy; an
// update_class dry run counts the files and bytes that would gain or lose copies and changes
// nothing. Over NATS, HTTP, the classic protocol and the CLI.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { metadata } from "./helpers/faults.ts";
import { until } from "./helpers/until.ts";
import { Tracker } from "./helpers/tracker.ts";
import { bearer } from "./helpers/gateway.ts";
import { REPO } from "../deploy/services.ts";
import { fileId, type Store } from "../actors/runtime/mongo.ts";
import type { Reply } from "../protocol/schemas.ts";

const D = "ex";
const t = suite<{ tc: TestCluster; store: Store }>("explain");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("explain", {
    env: { MOGILE_FSCK_IDLE_MS: "500", MOGILE_REAPER_DEAD_GRACE_MS: "3000", MOGILE_REAPER_DEAD_CHECK_MS: "1000" },
  });
  ctx.store = await metadata(ctx.tc.cluster);
  await ctx.tc.client.createDomain(D);
  // ack after the first copy: the replicator makes the second
  await ctx.tc.client.rpc("create_class", { domain: D, class: "lazy", mindevcount: 2, async_copies: true });
  await ctx.tc.client.createClass(D, "dry", 2);
});
t.after(async (ctx) => { await ctx.store?.close(); await ctx.tc?.stop(); });

const devids = async (tc: TestCluster, key: string) => [...(await tc.client.fileInfo(D, key)).devids!].sort((a, b) => a - b);
const atTwo = (tc: TestCluster, key: string) => until(async () => (await devids(tc, key)).length === 2 && devids(tc, key), 60_000, `${key} at 2 copies`);
const copyOn = (r: Reply<"explain">, devid: number) => r.copies.find((c) => c.devid === devid)!;
const hostOf = (tc: TestCluster, devid: number) => tc.cluster.storage.find((s) => s.devids.includes(devid))!.host;

/** the `mogile` CLI as a user runs it, against this cluster */
function mogile(tc: TestCluster, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, FORCE_COLOR: "0", MOGILE_NATS_URL: tc.cluster.natsUrl, MOGILE_DATA_DIR: tc.dataDir };
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, "bin", "mogile.js"), ...args], { cwd: REPO, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

t("explain - copies written in the PUT: create_open's weighted draw for the first, the chain for the policy's other host", async ({ tc }) => {
  await tc.client.put(D, "chained", randomBytes(3000));
  const [a, b] = await atTwo(tc, "chained");
  const r = await tc.client.explain(D, "chained");
  assert.is(r.policy_state, "meets", r.policy_detail);
  assert.is(r.wanted, 2);
  const causes = r.copies.map((c) => c.placed?.cause).sort();
  assert.equal(causes, ["chain", "create_open"], JSON.stringify(r.copies));
  const first = r.copies.find((c) => c.placed?.cause === "create_open")!;
  assert.match(first.placed!.why, /weighted by free space × weight among \d+ writable devices: dev\d+ \d+% \(free/);
  const hop = r.copies.find((c) => c.placed?.cause === "chain")!;
  assert.match(hop.placed!.why, /chain after dev\d+: MultipleHosts\(2\) had copies on 1 of 2 hosts wanted/);
  assert.ok(r.copies.every((c) => c.counts && c.status === "alive"));
  assert.is(hostOf(tc, a) !== hostOf(tc, b), true);
  assert.ok(r.would_change.some((w) => /^losing host \S+ \(id \d+, dev\d+\) would leave it below MultipleHosts\(2\)/.test(w)), r.would_change.join("\n"));
  assert.ok(r.would_change.includes("mindevcount 3 would add 1 copy"), r.would_change.join("\n"));
});

t("explain - a copy the replicator made says the policy lacked a host", async ({ tc }) => {
  await tc.client.put(D, "lazy", randomBytes(2000), { class: "lazy" });
  await atTwo(tc, "lazy");
  const r = await tc.client.explain(D, "lazy");
  assert.equal(r.copies.map((c) => c.placed?.cause).sort(), ["create_open", "replicate"], JSON.stringify(r.copies));
  const made = r.copies.find((c) => c.placed?.cause === "replicate")!;
  assert.is(made.placed!.why, "made by the replicator after the upload: MultipleHosts(2) had copies on 1 of 2 hosts wanted");
});

t("explain - a file stored before placements were recorded says no record, and is still judged against its policy", async ({ tc, store }) => {
  await tc.client.put(D, "old", randomBytes(1000));
  await atTwo(tc, "old");
  await store.files.updateOne({ _id: fileId(D, "old") }, { $unset: { placements: "" } });
  const r = await tc.client.explain(D, "old");
  assert.equal(r.copies.map((c) => c.placed), [null, null]);
  assert.equal(r.history, []);
  assert.is(r.policy_state, "meets");
  const cli = await mogile(tc, "explain", "old", "-d", D);
  assert.is(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /no record/);
  assert.match(cli.stdout, /policy: meets/);
});

t("explain - the same answer over HTTP (?explain), the classic protocol and the CLI", async ({ tc }) => {
  const nats = await tc.client.explain(D, "chained");
  const res = await fetch(`${tc.cluster.httpUrl}/v1/domains/${D}/files/chained?explain`, { headers: bearer(tc.cluster.adminKey) });
  assert.is(res.status, 200);
  const http = (await res.json()) as Reply<"explain">;
  assert.equal(http.copies.map((c) => c.placed?.cause), nats.copies.map((c) => c.placed?.cause));

  const tracker = await Tracker.connect(tc.cluster.legacyPort);
  try {
    const a = await tracker.call("explain", { domain: D, key: "chained" });
    assert.ok(a.ok, a.raw);
    if (!a.ok) return;
    assert.is(a.args.copies, "2");
    assert.is(a.args.policy_state, "meets");
    assert.equal([a.args.copy1_placed_cause, a.args.copy2_placed_cause].sort(), ["chain", "create_open"]);
    const none = await tracker.call("explain", { domain: D, key: "nope" });
    assert.is(none.ok ? "ok" : none.code, "unknown_key");
  } finally {
    tracker.close();
  }

  const cli = await mogile(tc, "explain", "chained", "-d", D, "--json");
  assert.is(cli.code, 0, cli.stderr);
  assert.equal((JSON.parse(cli.stdout) as Reply<"explain">).copies.map((c) => c.devid), nats.copies.map((c) => c.devid));
});

t("update_class dry_run - counts the files and bytes that would gain or lose copies, and changes nothing", async ({ tc }) => {
  const sizes = [1000, 2000, 3000, 4000, 5000];
  for (const [i, n] of sizes.entries()) await tc.client.put(D, `dry${i}`, randomBytes(n), { class: "dry" });
  const before = await Promise.all(sizes.map((_, i) => atTwo(tc, `dry${i}`)));
  const total = sizes.reduce((s, n) => s + n, 0);

  const up = (await tc.client.rpc("update_class", { domain: D, class: "dry", mindevcount: 3, dry_run: true })).dry_run!;
  assert.is(up.complete, true);
  assert.equal([up.files, up.bytes], [5, total]);
  assert.equal([up.gain_files, up.gain_copies, up.gain_bytes], [5, 5, total]);
  assert.equal([up.lose_files, up.move_files, up.unchanged_files, up.below_now_files, up.unmet_files], [0, 0, 0, 0, 0]);
  assert.equal([up.from_mindevcount, up.from_replpolicy, up.replpolicy], [2, "MultipleHosts()", "MultipleHosts()"]);

  const down = (await tc.client.rpc("update_class", { domain: D, class: "dry", mindevcount: 1, dry_run: true })).dry_run!;
  assert.equal([down.lose_files, down.lose_copies, down.lose_bytes, down.gain_files], [5, 5, total, 0]);
  const devices = (await tc.client.rpc("update_class", { domain: D, class: "dry", mindevcount: 2, replpolicy: "MultipleDevices()", dry_run: true })).dry_run!;
  assert.equal([devices.unchanged_files, devices.gain_files, devices.lose_files, devices.replpolicy], [5, 0, 0, "MultipleDevices()"]);

  // the classic protocol, and the CLI's --dry-run
  const tracker = await Tracker.connect(tc.cluster.legacyPort);
  try {
    const a = await tracker.call("update_class", { domain: D, class: "dry", mindevcount: 3, dry_run: 1 });
    assert.ok(a.ok, a.raw);
    if (a.ok) assert.equal([a.args.dry_run, a.args.gain_files, a.args.gain_bytes, a.args.complete], ["1", "5", String(total), "1"]);
  } finally {
    tracker.close();
  }
  const cli = await mogile(tc, "class", "modify", D, "dry", "--mindevcount", "3", "--dry-run");
  assert.is(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /dry run: nothing changed/);
  assert.match(cli.stdout, /gain copies\s+5\s+5/);

  // nothing changed: the class keeps its rule, the files their copies
  const cls = (await tc.client.getDomains()).find((d) => d.domain === D)!.classes.find((c) => c.class === "dry")!;
  assert.equal([cls.mindevcount, cls.replpolicy], [2, "MultipleHosts()"]);
  assert.equal(await Promise.all(sizes.map((_, i) => devids(tc, `dry${i}`))), before);
  // an unknown class is refused as update_class refuses it
  try {
    await tc.client.rpc("update_class", { domain: D, class: "nope", mindevcount: 3, dry_run: true });
    assert.unreachable("dry run of an unknown class");
  } catch (err) {
    assert.is((err as { code?: string }).code, "class_not_found");
  }
});

t("explain - a drained device: the moved copy names it, and the record says the old copy left for the drain", async ({ tc }) => {
  const [victim] = await devids(tc, "chained");
  await tc.client.setState(hostOf(tc, victim), victim, "drain");
  const after = await until(async () => {
    const d = await devids(tc, "chained");
    return d.length === 2 && !d.includes(victim) && d;
  }, 120_000, `dev${victim} drained of "chained"`);
  const r = await tc.client.explain(D, "chained");
  const moved = r.copies.find((c) => c.placed?.cause === "drain");
  assert.ok(moved, JSON.stringify(r.copies));
  assert.ok(after.includes(moved!.devid));
  assert.is(moved!.placed!.dev, victim);
  assert.match(moved!.placed!.why, new RegExp(`^moved here from dev${victim}: its device is being drained`));
  const left = r.history.find((h) => h.devid === victim)!;
  assert.equal([left.op, left.cause, left.dev], ["drop", "drain", moved!.devid]);
  assert.is(r.policy_state, "meets");
  await tc.client.setState(hostOf(tc, victim), victim, "alive");
});

t("explain - a dead device: the copy made in its place says it was restored", async ({ tc }) => {
  await tc.client.put(D, "victim", randomBytes(1500));
  const [dead] = await atTwo(tc, "victim");
  await tc.client.setState(hostOf(tc, dead), dead, "dead");
  await until(async () => {
    const d = await devids(tc, "victim");
    return d.length === 2 && !d.includes(dead);
  }, 120_000, `"victim" restored off dev${dead}`);
  const r = await tc.client.explain(D, "victim");
  const restored = r.copies.find((c) => c.placed?.cause === "restore");
  assert.ok(restored, JSON.stringify(r.copies));
  assert.is(restored!.placed!.dev, dead);
  assert.match(restored!.placed!.why, new RegExp(`^restored after dev${dead} was marked dead: MultipleHosts\\(2\\) had copies on 1 of 2 hosts wanted`));
  const gone = r.history.find((h) => h.devid === dead)!;
  assert.equal([gone.op, gone.cause], ["drop", "dead"]);
  assert.is(r.policy_state, "meets");
  assert.ok(copyOn(r, restored!.devid).counts);
});

t.run();
