// The fsck actor: walks every file checking its copies (fsck_*), empties devices in `drain`, and
// evens usage across devices (rebalance_*). Query handlers only change the state documents; this
// actor does the work. Several may run: only the holder of the `fsck` lease acts.
import { z } from "zod";
import { jetstream } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, sleep, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { DeviceView } from "../runtime/devices.ts";
import { Lease } from "../runtime/lease.ts";
import { nextId, type FileDoc } from "../runtime/mongo.ts";
import { checkFile, type CheckDeps, type FsckEvent } from "./check.ts";
import { ClassCache, DEFAULT_HASHTYPE } from "../runtime/domain/classes.ts";
import { DomainCache } from "../runtime/domain/domains.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { moveCopy, type MoveDeps } from "./move.ts";
import { parsePolicy } from "../runtime/domain/rebalance_policy.ts";
import { deviceInfo, filesOn, plan } from "../runtime/domain/rebalance.ts";
import { tasks, fsckState, rebalanceState, nowSec, type FsckState, type Tasks } from "../runtime/domain/tasks.ts";
import { FidWalker, walkMode } from "./walk.ts";
import { sweepUnreferenced } from "./orphans.ts";
import { Uploads } from "../runtime/uploads.ts";
import { fsckChecked, movedCopy, taskMetrics } from "./metrics.ts";

const Config = z.object({
  /** fids examined per fsck batch (the checkpoint advances once per batch) */
  MOGILE_FSCK_BATCH: z.coerce.number().int().positive().default(100),
  /** files checked at once within a batch */
  MOGILE_FSCK_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** files checked per second at most (0 = as fast as it goes) */
  MOGILE_FSCK_MAX_RATE: z.coerce.number().min(0).default(200),
  /** how often an idle actor looks for work (ms); state changes wake it at once */
  MOGILE_FSCK_IDLE_MS: z.coerce.number().int().positive().default(2_000),
  /** how to walk fids: auto (range on MongoDB, probe on FerretDB), range or probe */
  MOGILE_FSCK_WALK: z.enum(["auto", "range", "probe"]).default("auto"),
  /** files moved per drain pass per device */
  MOGILE_DRAIN_BATCH: z.coerce.number().int().positive().default(50),
  /** copies moved at once (drain and rebalance) */
  MOGILE_MOVE_CONCURRENCY: z.coerce.number().int().positive().default(4),
  /**
   * bytes no file records are deleted by a full fsck run once older than this (ms); keep it above
   * MOGILE_UPLOAD_TTL_SEC, so no upload that could still be closed is touched
   */
  MOGILE_FSCK_ORPHAN_AGE_MS: z.coerce.number().int().min(0).default(2 * 3600_000),
  /** moves planned per rebalance round (each round re-reads usage) */
  MOGILE_REBALANCE_ROUND: z.coerce.number().int().positive().default(100),
});

/** Run `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => { while (i < items.length) await fn(items[i++]); }));
}

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  clusterKey(); // copies are checked through signed URLs: a missing key fails the start, not every check
  const store = ctx.store!;
  const log = ctx.log;
  const t: Tasks = tasks(store);
  const devices = new DeviceView(store, log);
  await devices.start(ctx.nc);
  const js = jetstream(ctx.nc);
  const classes = new ClassCache(store);
  const domains = new DomainCache(store);
  const deps: CheckDeps & MoveDeps = { store, devices, nc: ctx.nc, js, log, classOf: (file) => classes.forFile(file), protects: (domain) => domains.protects(domain) };
  const uploads = await Uploads.open(ctx.nc);
  const lease = await Lease.open(ctx.nc, "fsck", ctx.instance, log);
  lease.start();
  taskMetrics(t, () => lease.leader);
  const walker = new FidWalker(store, await walkMode(store, cfg.MOGILE_FSCK_WALK));
  const abort = new AbortController();
  const { stopped, done } = stoppedSignal();

  // state changes (fsck_start, rebalance_start, set_state drain …) end an idle wait at once
  let wake: (() => void) | null = null;
  const nudge = () => { wake?.(); };
  const subs = [subjects.tasksChanged, subjects.devicesChanged].map((s) => ctx.nc.subscribe(s, { callback: nudge }));
  const idle = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); wake = null; abort.signal.removeEventListener("abort", done); resolve(); }
    wake = done;
    abort.signal.addEventListener("abort", done, { once: true });
  });

  // ---- fsck ----
  let gen = -1;
  /** fids whose devices did not answer, checked again once later */
  let deferred: FileDoc[] = [];

  async function logEvents(events: FsckEvent[], g: number) {
    if (!events.length) return;
    const inc: Record<string, number> = {};
    for (const e of events) {
      const logid = await nextId(store.counters, "fscklog");
      await t.log.insertOne({ _id: logid, utime: nowSec(), fid: e.fid, evcode: e.evcode, ...(e.devid !== undefined ? { devid: e.devid } : {}) });
      inc[`counts.${e.evcode}`] = (inc[`counts.${e.evcode}`] ?? 0) + 1;
      log.info("fsck event", { fid: e.fid, evcode: e.evcode, devid: e.devid });
    }
    await t.fsck.updateOne({ _id: "fsck", gen: g }, { $inc: inc });
  }

  async function checksumAlg(file: FileDoc, mode: string): Promise<string | null> {
    if (mode === "off") return null;
    if (mode) return mode;
    const cls = await deps.classOf(file);
    return cls.hashtype && cls.hashtype !== DEFAULT_HASHTYPE ? cls.hashtype : null;
  }

  async function fsckStep(): Promise<boolean> {
    const st: FsckState = await fsckState(t);
    if (!st.running) return false;
    if (st.gen !== gen) { gen = st.gen; deferred = []; }
    if (st.total === null) {
      const filter: Record<string, unknown> = { fid: { $gt: st.max_fid_checked, $lte: st.end_fid } };
      if (st.domain !== null) filter.domain = st.domain;
      if (st.class !== null) filter.class = st.class;
      const total = await store.files.countDocuments(filter);
      await t.fsck.updateOne({ _id: "fsck", gen: st.gen }, { $set: { total, host: ctx.instance } });
    }
    const mode = (await store.settings.findOne({ _id: "fsck_checksum" }))?.value ?? "";
    const t0 = Date.now();
    const batch = await walker.next(st.max_fid_checked, st.end_fid, cfg.MOGILE_FSCK_BATCH, { domain: st.domain, class: st.class });
    const retryNow = deferred;
    deferred = [];
    const events: FsckEvent[] = [];
    let checked = 0;
    await pool([...batch.files, ...retryNow], cfg.MOGILE_FSCK_CONCURRENCY, async (file) => {
      const second = retryNow.includes(file);
      try {
        const r = await checkFile(deps, file, { policyOnly: st.policy_only, checksumAlg: st.policy_only ? null : await checksumAlg(file, mode) });
        events.push(...r.events);
        if (r.retry && !second) deferred.push(file);
        else if (r.retry) log.warn("fsck: a copy's device did not answer twice; skipped", { fid: file.fid });
        if (!r.retry || second) checked++;
      } catch (err) {
        log.warn("fsck check failed", { fid: file.fid, err });
        if (!second) deferred.push(file);
      }
    });
    await logEvents(events, st.gen);
    fsckChecked(checked);
    // pace the walk: a batch takes at least as long as the maximum rate allows
    const minMs = cfg.MOGILE_FSCK_MAX_RATE > 0 ? (1000 * checked) / cfg.MOGILE_FSCK_MAX_RATE : 0;
    const spent = Date.now() - t0;
    if (spent < minMs) await sleep(minMs - spent, abort.signal);
    const rate = checked ? Math.round((10 * checked * 1000) / Math.max(1, Date.now() - t0)) / 10 : st.rate;
    const finished = batch.scannedTo >= st.end_fid && deferred.length === 0;
    if (finished && !st.policy_only && st.domain === null && st.class === null) {
      // a whole-cluster run ends with the sweep for bytes no file records (see orphans.ts)
      const sweep = await sweepUnreferenced({ ...deps, uploads }, { minAgeMs: cfg.MOGILE_FSCK_ORPHAN_AGE_MS, signal: abort.signal });
      log.info("fsck: unreferenced bytes swept", { ...sweep });
      await t.fsck.updateOne({ _id: "fsck", gen: st.gen }, { $set: { unreferenced: sweep.queued } });
    }
    const res = await t.fsck.updateOne(
      { _id: "fsck", gen: st.gen, running: true },
      {
        $set: {
          max_fid_checked: Math.max(st.max_fid_checked, batch.scannedTo), rate, host: finished ? null : ctx.instance,
          ...(finished ? { running: false, stop_time: nowSec() } : {}),
        },
        $inc: { checked },
      },
    );
    if (finished && res.modifiedCount) log.info("fsck finished", { checked: st.checked + checked, end_fid: st.end_fid });
    return true;
  }

  // ---- drain ----
  const drained = new Set<number>();
  /** files that could not move now (no destination keeps the placement): skipped for a while */
  const stuck = new Map<number, number>();

  async function drainStep(): Promise<boolean> {
    let moved = 0;
    const now = Date.now();
    for (const [fid, until] of stuck) if (until < now) stuck.delete(fid);
    for (const dev of devices.devices.values()) {
      if (dev.status !== "drain") { drained.delete(dev._id); continue; }
      const files = (await store.files.find({ devids: dev._id }).limit(cfg.MOGILE_DRAIN_BATCH + stuck.size).toArray()).filter((f) => !stuck.has(f.fid)).slice(0, cfg.MOGILE_DRAIN_BATCH);
      if (!files.length) {
        if (!drained.has(dev._id)) log.info("device drained: no file has a copy on it any more", { devid: dev._id });
        drained.add(dev._id);
        continue;
      }
      drained.delete(dev._id);
      await pool(files, cfg.MOGILE_MOVE_CONCURRENCY, async (file) => {
        // keep the file's spread: never onto a host that holds another of its copies
        const otherHosts = new Set(file.devids.filter((x) => x !== dev._id).map((x) => devices.devices.get(x)?.hostid).filter((h): h is number => h !== undefined));
        const [to] = devices.choose(1, { size: file.length, avoidHosts: otherHosts, avoidDevs: new Set(file.devids) });
        if (!to) { stuck.set(file.fid, Date.now() + 30_000); return; }
        const r = await moveCopy(deps, file._id, file.fid, dev._id, to, "drain");
        if (r.ok || !r.gone) movedCopy("drain", r.ok);
        if (r.ok) moved++;
        else if (!r.gone) { log.warn("drain: move failed", { fid: file.fid, from: dev._id, to, reason: r.reason }); stuck.set(file.fid, Date.now() + 10_000); }
      });
    }
    if (moved) log.info("drain: moved copies", { count: moved });
    return moved > 0;
  }

  // ---- rebalance ----
  async function rebalanceStep(): Promise<boolean> {
    const rs = await rebalanceState(t);
    if (!rs?.running || rs.policy == null) return false;
    const policy = parsePolicy(rs.policy);
    const devs = await deviceInfo(devices, store);
    const p = await plan(devs, policy, {
      maxMoves: cfg.MOGILE_REBALANCE_ROUND,
      moved: { files: rs.files_moved, bytes: rs.bytes_moved },
      hostOf: (devid) => devices.devices.get(devid)?.hostid,
      filesOf: (devid) => filesOn(store, devid, policy.fidAge),
    });
    const sdevs = [...new Set([...rs.sdevs, ...p.sdevs])].sort((a, b) => a - b);
    const ddevs = [...new Set([...rs.ddevs, ...p.ddevs])].sort((a, b) => a - b);
    if (!p.moves.length) {
      const res = await t.rebalance.updateOne({ _id: "rebalance", gen: rs.gen, running: true }, { $set: { running: false, host: null, time_finished: nowSec(), sdevs, ddevs } });
      if (res.modifiedCount && policy.leaveInDrainMode) {
        for (const devid of sdevs) await store.devices.updateOne({ _id: devid, status: "alive" }, { $set: { status: "drain" } });
        ctx.nc.publish(subjects.devicesChanged, "{}");
      }
      log.info("rebalance finished", { files: rs.files_moved, bytes: rs.bytes_moved, sdevs, ddevs });
      return false;
    }
    let files = 0, bytes = 0, failed = 0;
    await pool(p.moves, cfg.MOGILE_MOVE_CONCURRENCY, async (m) => {
      const r = await moveCopy(deps, m.file._id, m.file.fid, m.from, m.to, "rebalance");
      if (r.ok || !r.gone) movedCopy("rebalance", r.ok);
      if (r.ok) { files++; bytes += r.length; } else if (!r.gone) { failed++; log.warn("rebalance: move failed", { fid: m.file.fid, from: m.from, to: m.to, reason: r.reason }); }
    });
    await t.rebalance.updateOne({ _id: "rebalance", gen: rs.gen }, { $set: { sdevs, ddevs, host: ctx.instance }, $inc: { files_moved: files, bytes_moved: bytes, failed } });
    log.info("rebalance round", { files, bytes, failed });
    // a round where nothing could move ends the run at the next look (the plan will be the same)
    return files > 0;
  }

  const loop = (async () => {
    while (!abort.signal.aborted) {
      let busy = false;
      if (lease.leader) {
        for (const [name, step] of [["fsck", fsckStep], ["drain", drainStep], ["rebalance", rebalanceStep]] as const) {
          if (abort.signal.aborted) break;
          try {
            busy = (await step()) || busy;
          } catch (err) {
            log.warn(`${name} step failed`, { err });
          }
        }
      }
      if (!busy && !abort.signal.aborted) await idle(cfg.MOGILE_FSCK_IDLE_MS);
    }
  })();
  loop.then(() => done(), (err) => done(err));

  return {
    stopped,
    async stop() {
      abort.abort();
      await loop.catch(() => {});
      for (const s of subs) s.unsubscribe();
      await lease.stop().catch(() => {});
      devices.stop();
      done();
    },
  };
}

export const spec: ActorSpec = { role: "fsck", mongo: true, start };
