// Integration (issue 7): operations racing on one file never lose an acknowledged file, never
// leave one below its policy, and never leave a key naming bytes that are gone.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until, readAll } from "./helpers/until.ts";
import { MogileError } from "../protocol/errors.ts";
import { httpRequest } from "../protocol/http.ts";
import { buckets } from "../protocol/subjects.ts";
import { fidPath } from "../protocol/paths.ts";
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Kvm } from "@nats-io/kv";
import { jetstream } from "@nats-io/jetstream";
import { setTimeout as delay } from "node:timers/promises";
import { subjects } from "../protocol/subjects.ts";

const t = suite<{ tc: TestCluster }>("races");
const D = "races";

t.before(async (ctx) => {
  ctx.tc = await startTestCluster("races", { counts: { replicator: 2, deleter: 2 }, env: { MOGILE_FSCK_IDLE_MS: "500", MOGILE_REAPER_INTERVAL_MS: "1000", MOGILE_FSCK_ORPHAN_AGE_MS: "60000" } });
  await ctx.tc.client.createDomain(D);
  await ctx.tc.client.createClass(D, "two", 2);
  await ctx.tc.client.createClass(D, "three", 3);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
const outcome = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };
const infoOf = (tc: TestCluster, key: string) => tc.client.fileInfo(D, key).catch(() => null);
const hostsOf = (tc: TestCluster, devids: number[]) => new Set(devids.map((d) => tc.cluster.storage.find((s) => s.devids.includes(d))!.host)).size;

/** Every copy get_paths names answers with the file's bytes (no key names missing bytes). */
async function copiesIntact(tc: TestCluster, key: string, digest: string): Promise<string | null> {
  const { paths } = await tc.client.getPaths(D, key, { noverify: true });
  for (const p of paths) {
    const res = await httpRequest(p, { method: "GET", timeoutMs: 10_000 });
    const body = await readAll(res);
    if (res.statusCode !== 200) return `${key}: ${p} answers ${res.statusCode}`;
    if (md5(body) !== digest) return `${key}: ${p} holds other bytes`;
  }
  return null;
}

t("a file renamed right after its upload reaches its policy under the new key", async ({ tc }) => {
  const N = 20;
  for (let i = 0; i < N; i++) {
    await tc.client.put(D, `up${i}`, randomBytes(4096), { class: "two" });
    await tc.client.rename(D, `up${i}`, `renamed${i}`);
  }
  await until(async () => {
    const infos = await Promise.all(Array.from({ length: N }, (_, i) => infoOf(tc, `renamed${i}`)));
    return infos.every((f) => f && hostsOf(tc, f.devids!) >= 2);
  }, 60_000, "every renamed file at 2 copies on 2 hosts");
});

t("a rename racing a delete of its source: either wins, never a key on deleted bytes", async ({ tc }) => {
  const survivors: { key: string; digest: string }[] = [];
  for (let i = 0; i < 25; i++) {
    const body = randomBytes(4096 + i);
    await tc.client.put(D, `rd${i}`, body, { class: "two" });
    const [r, d] = await Promise.all([outcome(tc.client.rename(D, `rd${i}`, `rd${i}-moved`)), outcome(tc.client.delete(D, `rd${i}`))]);
    const src = await infoOf(tc, `rd${i}`);
    const dst = await infoOf(tc, `rd${i}-moved`);
    assert.is(src, null, `round ${i}: the source key survived (rename ${r}, delete ${d})`);
    // exactly one of them acted on the file
    if (r === "ok") {
      assert.ok(dst, `round ${i}: rename acknowledged but ${`rd${i}-moved`} is missing`);
      assert.is(d, "unknown_key", `round ${i}: both the rename and the delete were acknowledged`);
      survivors.push({ key: `rd${i}-moved`, digest: md5(body) });
    } else {
      assert.is(dst, null, `round ${i}: rename failed (${r}) but the target exists`);
      assert.is(d, "ok");
    }
  }
  // after the deleter has had time to act, every surviving key still has all its bytes
  await until(async () => {
    for (const s of survivors) {
      const info = await infoOf(tc, s.key);
      if (!info || hostsOf(tc, info.devids!) < 2) return false;
    }
    return true;
  }, 60_000, "survivors at 2 copies");
  await new Promise((r) => setTimeout(r, 3_000)); // deletes queued by the races run meanwhile
  for (const s of survivors) assert.is(await copiesIntact(tc, s.key, s.digest), null);
});

t("an overwrite racing the previous version's replication keeps the new version at its policy", async ({ tc }) => {
  const last = new Map<string, string>();
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; i < 10; i++) {
      const body = randomBytes(3000 + i * 10 + w);
      await tc.client.put(D, `ow${w}`, body, { class: "two" });
      last.set(`ow${w}`, md5(body));
    }
  }));
  await until(async () => {
    for (const key of last.keys()) {
      const info = await infoOf(tc, key);
      if (!info || hostsOf(tc, info.devids!) < 2 || info.devids!.length !== 2) return false;
    }
    return true;
  }, 60_000, "each key's last version at exactly 2 copies");
  await new Promise((r) => setTimeout(r, 3_000));
  for (const [key, digest] of last) {
    const { body } = await tc.client.get(D, key);
    assert.is(md5(await readAll(body)), digest, `${key} holds its last acknowledged version`);
    assert.is(await copiesIntact(tc, key, digest), null);
  }
});

t("a drain racing surplus drops never takes a file below its policy", async ({ tc }) => {
  const keys = Array.from({ length: 16 }, (_, i) => `dr${i}`);
  const digests = new Map<string, string>();
  for (const k of keys) {
    const b = randomBytes(5000);
    digests.set(k, md5(b));
    await tc.client.put(D, k, b, { class: "three" });
  }
  await until(async () => (await Promise.all(keys.map((k) => infoOf(tc, k)))).every((f) => f && hostsOf(tc, f.devids!) >= 3), 60_000, "3 copies each");
  // the most used device drains while every file loses a copy (class three → two: surplus drops)
  const devices = await tc.client.getDevices();
  const victim = [...devices].sort((a, b) => (b.mb_used ?? 0) - (a.mb_used ?? 0))[0];
  const host = tc.cluster.storage.find((s) => s.devids.includes(victim.devid))!.host;
  await tc.client.setState(host, victim.devid, "drain");
  for (const k of keys) await tc.client.changeClass(D, k, "two");
  let below: string | null = null;
  const watch = (async () => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !below) {
      for (const k of keys) {
        const f = await infoOf(tc, k);
        if (f && hostsOf(tc, f.devids!) < 2) below = `${k} at ${JSON.stringify(f.devids)}`;
      }
      const done = (await Promise.all(keys.map((k) => infoOf(tc, k)))).every((f) => f && !f.devids!.includes(victim.devid) && f.devids!.length === 2);
      if (done) return;
    }
  })();
  await watch;
  await tc.client.setState(host, victim.devid, "alive");
  assert.is(below, null, `a file went below its policy: ${below}`);
  const infos = await Promise.all(keys.map((k) => infoOf(tc, k)));
  assert.ok(infos.every((f) => f && f.devids!.length === 2 && !f.devids!.includes(victim.devid)), "drained and at policy");
  await new Promise((r) => setTimeout(r, 3_000));
  for (const k of keys) assert.is(await copiesIntact(tc, k, digests.get(k)!), null);
});

t("a file renamed back and forth, and onto keys just deleted, is never refused with key_exists", async ({ tc }) => {
  await tc.client.put(D, "pp-a", randomBytes(2048), { class: "two" });
  for (let i = 0; i < 15; i++) {
    assert.is(await outcome(tc.client.rename(D, "pp-a", "pp-b")), "ok", `round ${i} a→b`);
    assert.is(await outcome(tc.client.rename(D, "pp-b", "pp-a")), "ok", `round ${i} b→a`);
  }
  for (let i = 0; i < 10; i++) {
    await tc.client.put(D, `pd${i}`, randomBytes(1024), { class: "two" });
    await tc.client.delete(D, `pd${i}`);
    assert.is(await outcome(tc.client.rename(D, "pp-a", `pd${i}`)), "ok", `rename onto deleted pd${i}`);
    assert.is(await outcome(tc.client.rename(D, `pd${i}`, "pp-a")), "ok");
  }
});

t("an upload record that reappears after a crash does not delete the linked file", async ({ tc }) => {
  const body = randomBytes(4096);
  await tc.client.put(D, "reappear", body, { class: "two" });
  const info = (await infoOf(tc, "reappear"))!;
  // what a crash could leave behind: the upload record of a fid that was linked, already expired
  const kv = await new Kvm(tc.client.nc).open(buckets.uploads);
  const record = (expiresAt: number) => kv.put(`fid.${info.fid}`, JSON.stringify({ fid: info.fid, domain: D, key: "reappear", class: "two", devids: info.devids, expiresAt }));
  // first not yet expired, long enough for reaper passes to have seen it (every 1 s here)...
  await record(Date.now() + 3_600_000);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.is((await kv.get(`fid.${info.fid}`))?.operation, "PUT", "an unexpired record stays");
  // ...then rewritten as expired: the reaper reads a record again when its revision changed
  await record(Date.now() - 1000);
  await until(async () => (await kv.get(`fid.${info.fid}`))?.operation !== "PUT", 30_000, "the reaper expired the record");
  await new Promise((r) => setTimeout(r, 3_000)); // its delete job ran meanwhile
  assert.is(await copiesIntact(tc, "reappear", md5(body)), null);
  assert.ok((await tc.client.getPaths(D, "reappear", { noverify: true })).paths.length >= 1);
});

t("create_close naming another domain is refused and the upload stays open", async ({ tc }) => {
  await tc.client.createDomain("other");
  const open = await tc.client.rpc("create_open", { domain: D, key: "mine", class: "two" });
  await httpRequest(open.path, { method: "PUT", body: randomBytes(1000), timeoutMs: 10_000 }).then((r) => r.resume());
  const wrong = await outcome(tc.client.rpc("create_close", { domain: "other", fid: open.fid, devid: open.devid, path: open.path, key: "mine", size: 1000 }));
  assert.is(wrong, "bogus_args");
  // the rightful owner can still close it
  await tc.client.rpc("create_close", { domain: D, fid: open.fid, devid: open.devid, path: open.path, key: "mine", size: 1000 });
  assert.is((await infoOf(tc, "mine"))?.length, 1000);
});

t("create_close reads an upload record again when it changed or went after create_open wrote it", async ({ tc }) => {
  const kv = await new Kvm(tc.client.nc).open(buckets.uploads);
  const opened = async (key: string) => {
    const open = await tc.client.rpc("create_open", { domain: D, key, class: "two" });
    await httpRequest(open.path, { method: "PUT", body: randomBytes(500), timeoutMs: 10_000 }).then((r) => r.resume());
    return open;
  };
  const close = (open: { fid: number; devid: number; path: string }, key: string) =>
    outcome(tc.client.rpc("create_close", { domain: D, fid: open.fid, devid: open.devid, path: open.path, key, size: 500 }));
  // rewritten after create_open (as another domain's): the query actor's own copy of the record is stale
  const a = await opened("rewritten");
  const rec = JSON.parse((await kv.get(`fid.${a.fid}`))!.string());
  await kv.put(`fid.${a.fid}`, JSON.stringify({ ...rec, domain: "other" }));
  assert.is(await close(a, "rewritten"), "bogus_args", "checked against the record as it is now");
  assert.is((await kv.get(`fid.${a.fid}`))?.operation, "PUT", "the rewritten record is not taken");
  assert.is(await infoOf(tc, "rewritten"), null);
  // taken by someone else (the reaper, another query actor) after create_open
  const b = await opened("gone");
  await kv.purge(`fid.${b.fid}`);
  assert.is(await close(b, "gone"), "no_temp_file");
  assert.is(await infoOf(tc, "gone"), null);
  // untouched: closed as usual, once
  const c = await opened("kept-open");
  assert.is(await close(c, "kept-open"), "ok");
  assert.is(await close(c, "kept-open"), "no_temp_file");
  assert.is((await infoOf(tc, "kept-open"))?.length, 500);
});

t("a fid hint far beyond the counter is refused and does not jam allocation", async ({ tc }) => {
  const near53 = 2 ** 53 - 10;
  assert.is(await outcome(tc.client.rpc("create_open", { domain: D, key: "big", fid: near53 })), "bogus_args");
  assert.is(await outcome(tc.client.rpc("create_open", { domain: D, key: "big", fid: 2 ** 33 })), "fid_in_use");
  const next = await tc.client.rpc("create_open", { domain: D, key: "after" });
  assert.ok(next.fid < 2 ** 32, `fid ${next.fid} still allocated from the counter`);
});

t("a whole fsck run deletes old bytes no file records, and keeps young ones and recorded ones", async ({ tc }) => {
  const body = randomBytes(3000);
  await tc.client.put(D, "kept", body, { class: "two" });
  // replicated first: the device picked below must be one the policy leaves alone
  const kept = await until(async () => { const i = await infoOf(tc, "kept"); return i && hostsOf(tc, i.devids!) >= 2 && i; }, 30_000, "kept at 2 copies");
  const host = tc.cluster.storage[0];
  const devid = host.devids[0];
  const place = (fid: number) => path.join(host.root, fidPath(devid, fid));
  const old = new Date(Date.now() - 3_600_000);
  const stray = async (fid: number, mtime: Date) => {
    mkdirSync(path.dirname(place(fid)), { recursive: true });
    writeFileSync(place(fid), randomBytes(100));
    utimesSync(place(fid), mtime, mtime);
  };
  await stray(990_001, old); // named by nothing, an hour old
  await stray(990_002, new Date()); // named by nothing, just written (an upload in progress, say)
  // a copy of a live file on a device its record does not list
  const unrecorded = [...host.devids, ...tc.cluster.storage[1].devids].find((d) => !kept.devids!.includes(d) && host.devids.includes(d));
  if (unrecorded !== undefined) {
    const p = path.join(host.root, fidPath(unrecorded, kept.fid));
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, body);
    utimesSync(p, old, old);
  }
  await tc.client.rpc("fsck_reset", {});
  await tc.client.rpc("fsck_start", {});
  await until(async () => { const s = await tc.client.rpc("fsck_status", {}); return !s.running && s.max_fid_checked >= s.end_fid; }, 60_000, "fsck finished");
  await until(() => !existsSync(place(990_001)), 30_000, "the old unreferenced fid deleted");
  if (unrecorded !== undefined) await until(() => !existsSync(path.join(host.root, fidPath(unrecorded, kept.fid))), 30_000, "the unrecorded copy deleted");
  assert.ok(existsSync(place(990_002)), "a young file is left alone");
  assert.is(await copiesIntact(tc, "kept", md5(body)), null);
  rmSync(place(990_002));
});

t("a replica fetch is refused unless its source is a registered storage node's copy of that fid", async ({ tc }) => {
  const body = randomBytes(2000);
  await tc.client.put(D, "fetched", body, { class: "two" });
  const info = await until(async () => { const i = await infoOf(tc, "fetched"); return i && i.devids!.length >= 2 && i; }, 30_000, "2 copies");
  const { paths } = await tc.client.getPaths(D, "fetched", { noverify: true });
  const hosts = await tc.client.getHosts();
  // a device of a host without a copy: where a fetch would write
  const target = tc.cluster.storage.find((s) => !s.devids.some((d) => info.devids!.includes(d)))!;
  const hostid = hosts.find((h) => h.hostname === target.host)!.hostid;
  const devid = target.devids[0];
  const fetch = async (from: string, fid = 990_500) => {
    const msg = await tc.client.nc.request(`mogile.storage.${hostid}.fetch`, JSON.stringify({ devid, fid, from, length: body.length }), { timeout: 10_000 });
    return msg.json<{ ok: boolean; error?: string }>();
  };
  const refused = [
    await fetch(`${tc.cluster.httpUrl}/v1/domains/${D}/files/fetched`), // not a storage node
    await fetch(paths[0]), // a storage node's copy of another fid
    await fetch(paths[0].replace(/\/dev\d+\/.*$/, `/dev${devid}/0/000/990/0000990500.fid?x=1`)), // query strings are not fid URLs
    await fetch("http://10.255.255.1:80" + new URL(paths[0]).pathname, info.fid), // the right path on an unknown node
  ];
  for (const r of refused) assert.is(r.ok, false, JSON.stringify(r));
  assert.ok(!existsSync(path.join(target.root, fidPath(devid, 990_500))), "nothing written");
  // the real thing still works
  const ok = await fetch(paths[0], info.fid);
  assert.ok(ok.ok, JSON.stringify(ok));
});

t("a replicate job run before create_close links its fid, while the key still names the version it replaces, brings the new fid to policy", async ({ tc }) => {
  await tc.client.put(D, "relinked", randomBytes(3000), { class: "two" });
  await until(async () => { const i = await infoOf(tc, "relinked"); return i && i.devids!.length >= 2; }, 30_000, "the first version at 2 copies");
  const body = randomBytes(3000);
  const open = await tc.client.rpc("create_open", { domain: D, key: "relinked", class: "two" });
  const put = await httpRequest(open.path, { method: "PUT", body, timeoutMs: 10_000 });
  put.resume();
  assert.ok(put.statusCode! < 300, `PUT answered ${put.statusCode}`);
  // the job create_close queues just before it links, delivered and worked on before the link
  // (create_close's own publish is then a duplicate of the same message id)
  const job = { fid: open.fid, domain: D, key: "relinked", class: "two", length: body.length, devids: [open.devid], checksum: null, reason: "new", ts: Date.now() };
  await jetstream(tc.client.nc).publish(subjects.replicateJob, JSON.stringify(job), { msgID: `repl-${open.fid}` });
  await delay(300);
  await tc.client.rpc("create_close", { domain: D, key: "relinked", fid: open.fid, devid: open.devid, path: open.path, size: body.length });
  const info = await until(async () => { const i = await infoOf(tc, "relinked"); return i && i.fid === open.fid && i.devids!.length >= 2 && i; }, 20_000, "the new fid at 2 copies");
  assert.is(hostsOf(tc, info.devids!), 2);
  assert.is(await copiesIntact(tc, "relinked", md5(body)), null);
});

t.run();
