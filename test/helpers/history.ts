// The history workload and its checker (issue 7), shared by test/history.test.ts and the soak:
// N clients, each the only writer of its own keys, put / overwrite / rename / delete / updateclass
// and read a small key set while devices drain, rebalance runs, a device dies and replicators and
// query actors are killed (kill -9). Every acknowledged op is logged; an op that failed is an
// unknown outcome, so its key may hold the old or the new state until a re-read pins it down.
// The checker then asks: does every key hold its last acknowledged content, does every copy a key
// names answer whole, does every file reach its class policy, and after fsck is there no byte on
// disk that no key names?
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Kvm } from "@nats-io/kv";
import { buckets } from "../../protocol/subjects.ts";
import path from "node:path";
import type { Cluster, Role } from "../../deploy/cluster.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { httpRequest } from "../../protocol/http.ts";
import type { Store } from "../../actors/runtime/mongo.ts";
import { kill, alive, errCode, readAll } from "./faults.ts";
import { until } from "./until.ts";

export const HISTORY_CLASSES = { two: 2, three: 3 } as const;
type Cls = keyof typeof HISTORY_CLASSES;
const CLASS_NAMES = Object.keys(HISTORY_CLASSES) as Cls[];

/**
 * The environment the history cluster runs with: uploads abandoned by a killed query actor or a
 * failed put expire in 30 s (not an hour), so their bytes can be expected gone when the checker
 * walks the disks; fsck idles briefly between batches.
 */
export const HISTORY_ENV: Record<string, string> = {
  MOGILE_UPLOAD_TTL_SEC: "30",
  // fsck deletes bytes no file records once they are older than any upload could be open
  MOGILE_FSCK_ORPHAN_AGE_MS: "35000",
  MOGILE_REAPER_INTERVAL_MS: "2000",
  MOGILE_FSCK_IDLE_MS: "500",
};
/** 3 storage hosts × 2 devices; two of each actor that is killed, so one always answers */
export const HISTORY_CLUSTER = { hosts: 3, devicesPerHost: 2, counts: { query: 2, replicator: 2 } } as const;

export type OpKind = "put" | "overwrite" | "rename" | "delete" | "updateclass" | "get";
/** null: the key is unknown */
export type KeyState = { md5: string; length: number; cls: string } | null;

export interface OpRecord {
  n: number; client: number; kind: OpKind; key: string; to?: string; cls?: string; md5?: string; length?: number; fid?: number;
  t0: number; t1: number;
  /** ok: acknowledged; unknown: failed, so either outcome is possible */
  outcome: "ok" | "unknown";
  code?: string;
  message?: string;
}

export interface HistoryOptions {
  cluster: Cluster;
  client: MogileClient;
  domain: string;
  seconds: number;
  clients?: number;
  keys?: number;
  /** kill -9 a replicator or query actor about this often (ms) and start a new one */
  killEveryMs?: number;
  /** also kill -9 whole storage hosts now and then (the soak) */
  storageKills?: boolean;
  /** drain and rebalance again this often (ms) when the run is long enough */
  cycleMs?: number;
  log?: (msg: string) => void;
}

export interface HistoryRun {
  ops: OpRecord[];
  /** key → states it may hold (one unless an unknown outcome could not be pinned down) */
  model: Map<string, KeyState[]>;
  /** fid → the acknowledged put that created it */
  fids: Map<number, OpRecord>;
  /** fault events with their time, to line findings up with kills */
  eventTimes: { at: number; what: string }[];
  /** things a client saw during the load that cannot happen if every ack is honoured */
  anomalies: string[];
  events: string[];
  deadDevid: number | null;
  t0: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];
const same = (a: KeyState, b: KeyState) => (a === null || b === null ? a === b : a.md5 === b.md5 && a.cls === b.cls);
const show = (s: KeyState) => (s === null ? "unknown" : `${s.md5.slice(0, 8)}/${s.length}B/${s.cls}`);
export const keyName = (i: number) => `k${String(i).padStart(2, "0")}`;

/** What a key holds right now, through the tracker and one copy's bytes (or null: unknown key). */
async function observe(client: MogileClient, domain: string, key: string): Promise<KeyState & { fid: number } | null> {
  let info;
  try {
    info = await client.fileInfo(domain, key);
  } catch (err) {
    if (errCode(err) === "unknown_key") return null;
    throw err;
  }
  const got = await client.get(domain, key);
  const body = await readAll(got.body);
  return { md5: md5(body), length: body.length, cls: info.class, fid: info.fid };
}

/** Run the workload and the faults for `seconds`; never throws for a failed op (it is logged). */
export async function runHistory(o: HistoryOptions): Promise<HistoryRun> {
  const { cluster, client, domain } = o;
  const clients = o.clients ?? 8;
  const nkeys = o.keys ?? 24;
  const say = o.log ?? (() => {});
  const t0 = Date.now();
  const durationMs = o.seconds * 1000;
  const deadline = t0 + durationMs;
  const run: HistoryRun = { ops: [], model: new Map(), fids: new Map(), eventTimes: [], anomalies: [], events: [], deadDevid: null, t0 };
  const event = (msg: string) => { run.events.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}`); run.eventTimes.push({ at: Date.now(), what: msg }); say(msg); };
  for (let i = 0; i < nkeys; i++) run.model.set(keyName(i), [null]);
  for (const c of CLASS_NAMES) await client.createClass(domain, c, HISTORY_CLASSES[c]).catch((err) => { if (errCode(err) !== "class_exists") throw err; });

  const record = (r: Omit<OpRecord, "n">) => { const rec = { n: run.ops.length, ...r }; run.ops.push(rec); return rec; };

  /** After an unknown outcome: read the key until it is pinned to one of its candidate states. */
  const resolve = async (key: string) => {
    const cands = run.model.get(key)!;
    for (let i = 0; i < 6 && cands.length > 1; i++) {
      await sleep(500 + i * 500);
      let seen;
      try { seen = await observe(client, domain, key); } catch { continue; }
      const match = cands.findIndex((c) => same(c, seen));
      if (match < 0) run.anomalies.push(`${key}: after an unknown outcome it holds ${show(seen)}, none of ${cands.map(show).join(" | ")}`);
      run.model.set(key, [match >= 0 ? cands[match] : seen && { md5: seen.md5, length: seen.length, cls: seen.cls }]);
      return;
    }
  };

  const clientLoop = async (c: number) => {
    const own = [...run.model.keys()].filter((_, i) => i % clients === c);
    for (let n = 0; Date.now() < deadline && n < 100_000; n++) {
      await sleep(Math.random() * 30);
      const key = pick(own);
      if (run.model.get(key)!.length > 1) await resolve(key);
      const cands = run.model.get(key)!;
      const state = cands.length === 1 ? cands[0] : undefined;
      const roll = Math.random();
      const began = Date.now();
      const fail = (rec: Omit<OpRecord, "n" | "outcome" | "t0" | "t1">, err: unknown) => record({ ...rec, outcome: "unknown", code: errCode(err), message: String((err as Error)?.message ?? err).slice(0, 200), t0: began, t1: Date.now() });
      if (!state || roll < 0.3) {
        // put (a fresh key, or a key in doubt) or overwrite; unique random content
        const body = randomBytes(4096 + Math.floor(Math.random() * (60 * 1024 + 1)));
        const next: KeyState = { md5: md5(body), length: body.length, cls: pick(CLASS_NAMES) };
        const kind: OpKind = state === null ? "put" : "overwrite";
        try {
          const r = await client.put(domain, key, body, { class: next.cls });
          const rec = record({ client: c, kind, key, cls: next.cls, md5: next.md5, length: next.length, fid: r.fid, outcome: "ok", t0: began, t1: Date.now() });
          const before = run.fids.get(r.fid);
          if (before) run.anomalies.push(`fid ${r.fid} handed out twice: put #${before.n} of ${before.key} and put #${rec.n} of ${key}`);
          run.fids.set(r.fid, rec);
          run.model.set(key, [next]);
        } catch (err) {
          fail({ client: c, kind, key, cls: next.cls, md5: next.md5, length: next.length }, err);
          run.model.set(key, [...cands, next]);
          await resolve(key);
        }
      } else if (roll < 0.5) {
        // rename onto one of this client's own keys that is surely free
        const to = own.find((k) => k !== key && run.model.get(k)!.length === 1 && run.model.get(k)![0] === null);
        if (!to) continue;
        try {
          await client.rename(domain, key, to);
          record({ client: c, kind: "rename", key, to, md5: state.md5, outcome: "ok", t0: began, t1: Date.now() });
          run.model.set(to, [state]);
          run.model.set(key, [null]);
        } catch (err) {
          const code = errCode(err);
          fail({ client: c, kind: "rename", key, to, md5: state.md5 }, err);
          if (code === "unknown_key" || code === "key_exists") run.anomalies.push(`${key}: rename → ${to} refused with ${code} although ${key} holds ${show(state)} and ${to} is unknown (op #${run.ops.length - 1})`);
          run.model.set(to, [null, state]);
          run.model.set(key, [state, null]);
          await resolve(key);
          await resolve(to);
        }
      } else if (roll < 0.65) {
        try {
          await client.delete(domain, key);
          record({ client: c, kind: "delete", key, md5: state.md5, outcome: "ok", t0: began, t1: Date.now() });
          run.model.set(key, [null]);
        } catch (err) {
          fail({ client: c, kind: "delete", key, md5: state.md5 }, err);
          if (errCode(err) === "unknown_key") run.anomalies.push(`${key}: delete refused with unknown_key although it holds ${show(state)} (op #${run.ops.length - 1})`);
          run.model.set(key, [state, null]);
          await resolve(key);
        }
      } else if (roll < 0.8) {
        const cls = CLASS_NAMES.find((x) => x !== state.cls)!;
        const next = { ...state, cls };
        try {
          await client.changeClass(domain, key, cls);
          record({ client: c, kind: "updateclass", key, cls, md5: state.md5, outcome: "ok", t0: began, t1: Date.now() });
          run.model.set(key, [next]);
        } catch (err) {
          fail({ client: c, kind: "updateclass", key, cls, md5: state.md5 }, err);
          run.model.set(key, [state, next]);
          await resolve(key);
        }
      } else {
        // a read of a key nobody else writes must return its last acknowledged bytes
        try {
          const body = await readAll((await client.get(domain, key)).body);
          const got = md5(body);
          record({ client: c, kind: "get", key, md5: got, length: body.length, outcome: "ok", t0: began, t1: Date.now() });
          if (got !== state.md5) run.anomalies.push(`${key}: read ${got.slice(0, 8)}/${body.length}B at +${began - t0} ms, last acknowledged ${show(state)} (op #${run.ops.length - 1})`);
        } catch (err) {
          fail({ client: c, kind: "get", key }, err);
        }
      }
    }
  };

  // ---- faults ----
  const devices = cluster.storage.flatMap((s) => s.devids.map((devid) => ({ devid, host: s.host })));
  const dead = pick(devices);
  let draining: number | null = null;
  const wait = (ms: number) => sleep(Math.max(0, Math.min(ms, deadline - Date.now())));

  const killLoop = async () => {
    const every = o.killEveryMs ?? 8_000;
    while (Date.now() < deadline - 3_000) {
      await wait(every * (0.5 + Math.random()));
      if (Date.now() >= deadline - 3_000) break;
      if (o.storageKills && Math.random() < 0.25) {
        const s = pick(cluster.storage);
        event(`kill -9 storage ${s.host}`);
        s.proc.kill("SIGKILL");
        await sleep(2_000 + Math.random() * 3_000);
        await cluster.startStorage(s.host, s.devids).then(() => event(`restarted storage ${s.host}`), (err) => event(`restart of ${s.host} failed: ${(err as Error).message}`));
        continue;
      }
      const role: Role = Math.random() < 0.5 ? "replicator" : "query";
      const victim = pick(cluster.actors.filter((a) => a.role === role && alive(a.proc)));
      if (!victim) continue;
      event(`kill -9 ${victim.instance}`);
      await kill(victim.proc);
      await sleep(1_000 + Math.random() * 2_000);
      await cluster.spawnActor(role).then((a) => event(`started ${a.instance}`), (err) => event(`start of a ${role} failed: ${(err as Error).message}`));
    }
  };

  const drainLoop = async () => {
    const cycle = o.cycleMs ?? Math.max(durationMs, 45_000);
    await wait(durationMs * 0.1);
    while (Date.now() < deadline - 8_000) {
      const victim = pick(devices.filter((d) => d.devid !== dead.devid && (run.deadDevid === null || d.host !== dead.host)));
      const holdMs = Math.min(15_000, Math.max(4_000, durationMs * 0.08));
      try {
        draining = victim.devid;
        await client.setState(victim.host, victim.devid, "drain");
        event(`device ${victim.devid} (${victim.host}) → drain for ${(holdMs / 1000).toFixed(0)} s`);
        await sleep(holdMs);
      } catch (err) { event(`set_state drain ${victim.devid} failed: ${errCode(err)}`); }
      // back to alive, whatever happened: retried, bounded
      for (let i = 0; i < 20; i++) {
        try { await client.setState(victim.host, victim.devid, "alive"); event(`device ${victim.devid} → alive`); break; } catch (err) { if (i === 19) event(`set_state alive ${victim.devid} failed: ${errCode(err)}`); await sleep(500); }
      }
      draining = null;
      await wait(cycle - holdMs);
    }
  };

  const rebalanceLoop = async () => {
    const cycle = o.cycleMs ?? Math.max(durationMs, 60_000);
    await wait(durationMs * 0.25);
    while (Date.now() < deadline - 8_000) {
      const started = Date.now();
      try {
        await client.rpc("rebalance_reset", {}).catch(() => {});
        await client.rpc("rebalance_set_policy", { policy: "limit_by=none leave_in_drain_mode=0" });
        await client.rpc("rebalance_start", {});
        event("rebalance started");
        const s = await until(async () => { const s = await client.rpc("rebalance_status", {}); return (!s.running || Date.now() > deadline) && s; }, Math.max(1_000, deadline - Date.now() + 5_000), "rebalance to finish");
        event(`rebalance ${s.running ? "still running" : "finished"}: ${s.files_moved} files moved, ${s.failed} failed`);
      } catch (err) { event(`rebalance: ${errCode(err)}`); }
      await wait(cycle - (Date.now() - started));
    }
  };

  const deadOnce = async () => {
    await wait(Math.min(durationMs * 0.5, 240_000));
    for (let i = 0; i < 20 && draining === dead.devid; i++) await sleep(500);
    try {
      await client.setState(dead.host, dead.devid, "dead");
      run.deadDevid = dead.devid;
      event(`device ${dead.devid} (${dead.host}) → dead for the rest of the run`);
    } catch (err) { event(`set_state dead ${dead.devid} failed: ${errCode(err)}`); }
  };

  const progress = setInterval(() => say(`${run.ops.length} ops, ${run.ops.filter((x) => x.outcome === "unknown").length} unknown outcomes`), 15_000);
  try {
    await Promise.all([...Array.from({ length: clients }, (_, c) => clientLoop(c)), killLoop(), drainLoop(), rebalanceLoop(), deadOnce()]);
  } finally {
    clearInterval(progress);
  }
  // a rebalance left running would hold fsck off
  await client.rpc("rebalance_stop", {}).catch(() => {});
  return run;
}

/** The operations that touched `key` (as source or target), for a finding's evidence. */
export function historyOf(run: HistoryRun, key: string, last = 8): string {
  const ops = run.ops.filter((x) => x.key === key || x.to === key).slice(-last);
  return ops.map((x) => `#${x.n} +${x.t0 - run.t0}ms c${x.client} ${x.kind}${x.to ? `→${x.to}` : ""}${x.cls ? ` ${x.cls}` : ""}${x.md5 ? ` ${x.md5.slice(0, 8)}` : ""}${x.fid ? ` fid ${x.fid}` : ""} ${x.outcome}${x.code ? `(${x.code})` : ""}`).join("; ");
}

/** Fault events within `windowMs` of `at`, to line a finding up with a kill or a state change. */
export function faultsNear(run: HistoryRun, at: number, windowMs = 3_000): string {
  const near = run.eventTimes.filter((e) => Math.abs(e.at - at) <= windowMs);
  return near.length ? ` [near: ${near.map((e) => `${e.what} at ${e.at - at >= 0 ? "+" : ""}${e.at - at} ms`).join(", ")}]` : "";
}

/** The actor log lines that name `fid` (the cluster writes logs to dataDir/logs), the last `max`. */
export function logLines(cluster: Cluster, fid: number, max = 4): string[] {
  const dir = path.join(cluster.opts.dataDir, "logs");
  const re = new RegExp(`fid["=:]+${fid}\\b`);
  const out: string[] = [];
  let files: string[] = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith(".log")); } catch { return out; }
  for (const f of files) {
    let text = "";
    try { text = readFileSync(path.join(dir, f), "utf8"); } catch { continue; }
    for (const line of text.split("\n")) if (re.test(line)) out.push(`${f.replace(/\.log$/, "")}: ${line.slice(0, 240)}`);
  }
  return out.slice(-max);
}

export interface CheckResult { name: string; ok: boolean; detail: string[] }

export interface CheckOptions {
  policyTimeoutMs?: number;
  fsckTimeoutMs?: number;
  /** how long the deleter (and upload expiry) get to remove unreferenced bytes after fsck */
  gcTimeoutMs?: number;
  log?: (msg: string) => void;
}

/** The four checks of issue 7, each run even when an earlier one failed. */
export async function checkHistory(run: HistoryRun, cluster: Cluster, client: MogileClient, store: Store, domain: string, o: CheckOptions = {}): Promise<CheckResult[]> {
  const say = o.log ?? (() => {});
  const results: CheckResult[] = [];
  const keys = [...run.model.keys()];
  const hostOf = new Map(cluster.storage.flatMap((s) => s.devids.map((d) => [d, s.host] as const)));
  const dead = run.deadDevid;

  // 1. every key holds exactly its last acknowledged content; deleted / renamed-away keys are unknown
  {
    const detail: string[] = [];
    for (const key of keys) {
      const cands = run.model.get(key)!;
      let seen: Awaited<ReturnType<typeof observe>> = null;
      try {
        seen = await until(() => observe(client, domain, key).then((s) => ({ s })), 20_000, `${key} readable`).then((x) => x.s);
      } catch (err) {
        detail.push(`${key}: cannot be read (${(err as Error).message}); expected ${cands.map(show).join(" | ")}; history: ${historyOf(run, key)}`);
        continue;
      }
      if (!cands.some((c) => same(c, seen))) detail.push(`${key}: holds ${show(seen)}${seen ? ` (fid ${seen.fid})` : ""}, expected ${cands.map(show).join(" | ")}; history: ${historyOf(run, key)}`);
    }
    results.push({ name: "1. every key holds its last acknowledged content", ok: detail.length === 0, detail });
    say(`check 1: ${detail.length} problems over ${keys.length} keys`);
  }

  const linked = () => store.files.find({ domain }).toArray();

  const below: number[] = [];
  // 3. every file reaches its class policy: copies on ≥ mindevcount distinct hosts, the dead device not counted
  {
    let why: string[] = [];
    const ok = await until(async () => {
      why = [];
      for (const d of await linked()) {
        const want = HISTORY_CLASSES[d.class as Cls] ?? 2;
        const hosts = new Set(d.devids.filter((x) => x !== dead).map((x) => hostOf.get(x)));
        if (hosts.size < want) why.push(`${d.key} (fid ${d.fid}, class ${d.class}) on devices [${d.devids.join(",")}] = ${hosts.size} hosts, wants ${want}; history: ${historyOf(run, d.key, 4)}`);
      }
      return why.length === 0;
    }, o.policyTimeoutMs ?? 90_000, "every file at its class policy").then(() => true, () => false);
    if (!ok) {
      for (const d of await linked()) {
        const want = HISTORY_CLASSES[d.class as Cls] ?? 2;
        if (new Set(d.devids.filter((x) => x !== dead).map((x) => hostOf.get(x))).size >= want) continue;
        const rec = run.fids.get(d.fid);
        if (rec) why.push(`  fid ${d.fid} was put at +${rec.t1 - run.t0} ms${faultsNear(run, rec.t1, 5_000)}`);
        for (const l of logLines(cluster, d.fid)) why.push(`  log: ${l}`);
        below.push(d.fid);
      }
    }
    results.push({ name: "3. every file reaches its class policy within the bound", ok, detail: ok ? [] : why });
    say(`check 3: ${ok ? "ok" : `${why.length} files below policy`}`);
  }

  // 2. no key names missing bytes: every path get_paths (noverify) returns answers whole
  {
    const detail: string[] = [];
    for (const d of await linked()) {
      let paths: string[] = [];
      try { paths = (await client.getPaths(domain, d.key, { noverify: true, pathcount: 10 })).paths; } catch (err) { detail.push(`${d.key}: get_paths ${errCode(err)}`); continue; }
      for (const p of paths) {
        try {
          const res = await httpRequest(p, { method: "GET", timeoutMs: 30_000 });
          const body = await readAll(res);
          if (res.statusCode !== 200 || body.length !== d.length) detail.push(`${d.key} (fid ${d.fid}): ${p} answered ${res.statusCode} with ${body.length} of ${d.length} bytes; history: ${historyOf(run, d.key, 4)}`);
          else if (d.checksum && !d.checksum.toLowerCase().endsWith(md5(body))) detail.push(`${d.key} (fid ${d.fid}): ${p} holds different bytes (md5 ${md5(body)}, recorded ${d.checksum})`);
        } catch (err) { detail.push(`${d.key} (fid ${d.fid}): ${p}: ${(err as Error).message}`); }
      }
    }
    results.push({ name: "2. every path a key names answers with its bytes", ok: detail.length === 0, detail });
    say(`check 2: ${detail.length} problems`);
  }

  // 4. after fsck, no unreferenced bytes remain on the devices that are not dead
  {
    const detail: string[] = [];
    try {
      await until(async () => { const s = await client.rpc("rebalance_status", {}).catch(() => null); return !s?.running; }, 60_000, "rebalance stopped");
      // bytes written by the load become sweepable once older than the orphan age
      const lastOp = Math.max(run.t0, ...run.ops.map((x) => x.t1));
      const settle = lastOp + Number(HISTORY_ENV.MOGILE_FSCK_ORPHAN_AGE_MS) + 1_000 - Date.now();
      if (settle > 0) { say(`waiting ${Math.round(settle / 1000)} s until the load's bytes are past the orphan age`); await sleep(settle); }
      await client.rpc("fsck_reset", {});
      await until(() => client.rpc("fsck_start", {}).then(() => true), 30_000, "fsck to start");
      const s = await until(async () => { const s = await client.rpc("fsck_status", {}); return !s.running && s.max_fid_checked >= s.end_fid && s; }, o.fsckTimeoutMs ?? 120_000, "fsck to finish");
      say(`fsck finished: ${JSON.stringify(s.counts)}`);
      // did fsck repair what check 3 found below policy? (tells a lost job from a stuck one)
      if (below.length) {
        await sleep(15_000);
        for (const d of await store.files.find({ fid: { $in: below } }).toArray()) {
          const hosts = new Set(d.devids.filter((x) => x !== dead).map((x) => hostOf.get(x))).size;
          results.find((r) => r.name.startsWith("3."))!.detail.push(`after fsck (+15 s): fid ${d.fid} of ${d.key} on devices [${d.devids.join(",")}] = ${hosts} hosts`);
        }
      }
    } catch (err) { detail.push(`fsck did not run to completion: ${(err as Error).message}`); }
    let found: { orphans: string[]; strays: string[] } = { orphans: [], strays: [] };
    const ok = await until(async () => { found = await unreferenced(cluster, store, dead); return !found.orphans.length && !found.strays.length; }, o.gcTimeoutMs ?? 90_000, "unreferenced bytes gone").then(() => true, () => false);
    if (!ok) {
      const uploads = await new Kvm(client.nc).open(buckets.uploads).catch(() => null);
      const why = async (fid: number) => {
        const rec = run.fids.get(fid);
        if (rec) {
          // the op that made the fid unreferenced: follow the fid through renames to the overwrite or delete
          let key = rec.key;
          let next: OpRecord | undefined;
          const path: string[] = [];
          for (const x of run.ops) {
            if (x.n <= rec.n || x.kind === "get" || x.kind === "updateclass") continue;
            if (x.kind === "rename" && x.key === key && x.outcome === "ok") { path.push(`#${x.n} rename→${x.to}`); key = x.to!; continue; }
            if ((x.key === key && x.kind !== "rename") || x.to === key || (x.key === key && x.outcome === "unknown")) { next = x; break; }
          }
          const gone = next ? `${path.length ? path.join(", ") + ", then " : ""}#${next.n} +${next.t0 - run.t0}ms ${next.kind} of ${next.key}${next.to ? `→${next.to}` : ""} ${next.outcome}${next.code ? `(${next.code})` : ""}${faultsNear(run, next.t0)}` : "nothing later";
          return `put #${rec.n} of ${rec.key} at +${rec.t1 - run.t0}ms (${rec.md5?.slice(0, 8)}); replaced by ${gone}`;
        }
        const open = await uploads?.get(`fid.${fid}`).catch(() => null);
        const state = open && open.operation === "PUT" ? `its upload record is still open: ${open.string().slice(0, 200)}` : "no open upload record";
        return `no acknowledged put (an upload whose create_close never answered, e.g. a killed query actor's); ${state}`;
      };
      for (const x of found.orphans) {
        const fid = Number(/fid (\d+)/.exec(x)![1]);
        detail.push(`orphan ${x} — named by no key; came from ${await why(fid)}`);
        for (const l of logLines(cluster, fid, 3)) detail.push(`  log: ${l}`);
      }
      for (const x of found.strays) detail.push(`stray ${x}`);
    }
    try {
      const failed = await client.failedJobs({ limit: 20 });
      if (failed.length) detail.push(`dead-lettered jobs: ${JSON.stringify(failed).slice(0, 600)}`);
    } catch { /* informational */ }
    results.push({ name: "4. after fsck no unreferenced bytes remain", ok: ok && !detail.some((d) => d.startsWith("fsck did not")), detail });
    say(`check 4: ${found.orphans.length} orphan and ${found.strays.length} stray copies on disk`);
  }
  return results;
}

/**
 * Every .fid file on the non-dead devices, sorted into orphans (no key names the fid) and strays
 * (a key names the fid, but not on this device).
 */
export async function unreferenced(cluster: Cluster, store: Store, dead: number | null): Promise<{ orphans: string[]; strays: string[] }> {
  const named = new Map<number, { key: string; devids: number[] }>();
  for (const d of await store.files.find({}, { projection: { key: 1, fid: 1, devids: 1 } }).toArray()) named.set(d.fid, { key: d.key, devids: d.devids });
  const orphans: string[] = [];
  const strays: string[] = [];
  for (const s of cluster.storage) {
    for (const devid of s.devids) {
      if (devid === dead) continue;
      for (const file of walk(path.join(s.root, `dev${devid}`))) {
        const m = /^(\d+)\.fid$/.exec(path.basename(file));
        if (!m) continue;
        const fid = Number(m[1]);
        const owner = named.get(fid);
        if (!owner) orphans.push(`fid ${fid} on dev${devid}`);
        else if (!owner.devids.includes(devid)) strays.push(`fid ${fid} on dev${devid}, but ${owner.key} names devices [${owner.devids.join(",")}]`);
      }
    }
  }
  return { orphans, strays };
}

function walk(dir: string): string[] {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return []; }
  return entries.flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** A short summary: ops by kind and outcome, errors by code, keys and files checked, the fault timeline. */
export function summarizeHistory(run: HistoryRun, results: CheckResult[] = []): string {
  const by = new Map<string, number>();
  const codes = new Map<string, number>();
  for (const x of run.ops) {
    by.set(`${x.kind}:${x.outcome}`, (by.get(`${x.kind}:${x.outcome}`) ?? 0) + 1);
    if (x.code) codes.set(`${x.kind}:${x.code}`, (codes.get(`${x.kind}:${x.code}`) ?? 0) + 1);
  }
  const acked = run.ops.filter((x) => x.outcome === "ok").length;
  const live = [...run.model.values()].filter((c) => c.some((s) => s !== null)).length;
  const lines = [
    `ops ${run.ops.length} (acknowledged ${acked}, unknown outcome ${run.ops.length - acked}) over ${run.model.size} keys, ${live} live at the end`,
    `by kind: ${[...by].sort().map(([k, n]) => `${k}×${n}`).join(", ")}`,
    `errors: ${[...codes].map(([k, n]) => `${k}×${n} (e.g. "${run.ops.find((x) => `${x.kind}:${x.code}` === k)?.message}")`).join(", ") || "none"}`,
    `faults: ${run.events.join("; ")}`,
    `anomalies seen by clients: ${run.anomalies.length}${run.anomalies.length ? "\n    " + run.anomalies.slice(0, 10).join("\n    ") : ""}`,
  ];
  for (const r of results) lines.push(`${r.ok ? "PASS" : "FAIL"} ${r.name}${r.detail.length ? ` (${r.detail.length})\n    ` + r.detail.slice(0, 12).join("\n    ") : ""}`);
  return lines.join("\n");
}
