// Integration: fsck finds missing and damaged copies, forgets them and re-replicates; its status,
// log, stop/start (resumes from the checkpoint) and reset.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { statSync, truncateSync, unlinkSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { MogileError } from "../protocol/errors.ts";
import { fidPath } from "../protocol/paths.ts";

const t = suite<{ tc: TestCluster; keys: string[] }>("fsck");
const FILES = 40;
t.before(async (ctx) => {
  // small batches at a bounded rate: a run takes a few seconds, so it can be stopped midway
  ctx.tc = await startTestCluster("fsck", { env: { MOGILE_FSCK_BATCH: "5", MOGILE_FSCK_MAX_RATE: "15", MOGILE_FSCK_IDLE_MS: "300" } });
  await ctx.tc.client.createDomain("fk");
  ctx.keys = [];
  for (let i = 0; i < FILES; i++) {
    await ctx.tc.client.put("fk", `f${i}`, randomBytes(1000 + i * 37));
    ctx.keys.push(`f${i}`);
  }
  await until(async () => {
    for (const k of ctx.keys) if ((await ctx.tc.client.fileInfo("fk", k)).devcount < 2) return false;
    return true;
  }, 60_000, "every file at 2 copies");
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };
const onDisk = (tc: TestCluster, devid: number, fid: number) =>
  path.join(tc.cluster.storage.find((s) => s.devids.includes(devid))!.root, fidPath(devid, fid));
const status = (tc: TestCluster) => tc.client.rpc("fsck_status", {});
const finished = (tc: TestCluster) => until(async () => {
  const s = await status(tc);
  return !s.running && s.max_fid_checked >= s.end_fid && s;
}, 90_000, "fsck to finish");
const fullLog = async (tc: TestCluster) => {
  const rows = [];
  for (let after = 0; ;) {
    const r = await tc.client.rpc("fsck_getlog", { after_logid: after });
    rows.push(...r.rows);
    if (r.row_count < 100) return rows;
    after = r.rows[r.rows.length - 1].logid;
  }
};

t("fsck - finds a missing and a truncated copy, forgets both, and re-replication restores two good copies", async ({ tc }) => {
  const a = await tc.client.fileInfo("fk", "f3");
  const b = await tc.client.fileInfo("fk", "f7");
  const [aDev] = a.devids!;
  const [bDev] = b.devids!;
  unlinkSync(onDisk(tc, aDev, a.fid));
  truncateSync(onDisk(tc, bDev, b.fid), 10);

  await tc.client.rpc("fsck_reset", {});
  await tc.client.rpc("fsck_clearlog", {});
  await tc.client.rpc("fsck_start", {});
  const s = await finished(tc);
  assert.ok((s.counts.MISS ?? 0) >= 1 && (s.counts.BLEN ?? 0) >= 1, JSON.stringify(s.counts));
  assert.ok((s.counts.REPL ?? 0) >= 2);
  assert.is(s.checked, FILES);
  assert.is(s.remaining, 0);

  const log = await fullLog(tc);
  assert.ok(log.some((r) => r.fid === a.fid && r.evcode === "MISS" && r.devid === aDev), JSON.stringify(log));
  assert.ok(log.some((r) => r.fid === b.fid && r.evcode === "BLEN" && r.devid === bDev));
  assert.ok(log.some((r) => r.fid === a.fid && r.evcode === "REPL"));
  assert.ok(log.every((r) => r.fid === a.fid || r.fid === b.fid), "nothing else was wrong");

  // two good copies again, on two hosts, each of the right length on disk
  for (const f of [a, b]) {
    await until(async () => {
      const now = await tc.client.fileInfo("fk", f.key);
      if (now.devcount !== 2) return false;
      return now.devids!.every((d) => statSync(onDisk(tc, d, f.fid), { throwIfNoEntry: false })?.size === f.length);
    }, 60_000, `fid ${f.fid} back at 2 good copies`);
  }

  // a second pass over everything finds nothing wrong any more
  await tc.client.rpc("fsck_clearlog", {});
  assert.equal(await tc.client.rpc("fsck_getlog", {}), { rows: [], row_count: 0 });
  await tc.client.rpc("fsck_reset", {});
  await tc.client.rpc("fsck_start", {});
  const again = await finished(tc);
  assert.equal(again.counts, {});
  assert.is(again.checked, FILES);
});

t("fsck - stops mid-run, resumes from its checkpoint, refuses a second start, and reset rewinds", async ({ tc }) => {
  await tc.client.rpc("fsck_reset", {});
  await tc.client.rpc("fsck_start", {});
  assert.is(await code(tc.client.rpc("fsck_start", {})), "fsck_running");
  assert.is(await code(tc.client.rpc("rebalance_start", {})), "fsck_running");
  const first = (await tc.client.listFids(0, 1))[0].fid;
  await until(async () => (await status(tc)).max_fid_checked > first, 30_000, "some progress");
  await tc.client.rpc("fsck_stop", {});
  const paused = await until(async () => {
    const s = await status(tc);
    return !s.running && s.host === null ? s : (!s.running && s);
  }, 10_000, "stopped");
  assert.ok(paused.max_fid_checked < paused.end_fid, "stopped before the end");
  assert.ok(paused.stop_time! >= paused.start_time!);
  // the checkpoint holds still while stopped
  await new Promise((r) => setTimeout(r, 1_500));
  const held = await status(tc);
  assert.is(held.max_fid_checked, paused.max_fid_checked);
  assert.is(held.checked, paused.checked);
  assert.ok(held.remaining! > 0 && held.remaining! < FILES);

  // start again: it goes on from the checkpoint, so every file is checked exactly once in this run
  await tc.client.rpc("fsck_start", {});
  const s = await finished(tc);
  assert.is(s.checked, FILES);
  assert.ok(s.max_fid_checked >= paused.max_fid_checked);

  // reset rewinds the checkpoint, clears the counts and sets policy_only
  await tc.client.rpc("fsck_reset", { policy_only: true, startpos: 5 });
  const r = await status(tc);
  assert.equal([r.max_fid_checked, r.policy_only, r.checked, r.counts, r.running], [5, true, 0, {}, false]);
  await tc.client.rpc("fsck_start", {});
  const p = await finished(tc);
  assert.ok(p.policy_only);
  assert.is(p.checked, (await tc.client.listFids(5, 500)).length);
  await tc.client.rpc("fsck_reset", {});
});

t("fsck - scoped to one domain checks only that domain's files", async ({ tc }) => {
  await tc.client.createDomain("fk2");
  for (let i = 0; i < 3; i++) await tc.client.put("fk2", `g${i}`, randomBytes(500));
  assert.is(await code(tc.client.rpc("fsck_start", { domain: "nope" })), "unreg_domain");
  await tc.client.rpc("fsck_start", { domain: "fk2" });
  const s = await finished(tc);
  assert.equal([s.domain, s.checked], ["fk2", 3]);
});

t.run();
