// Helpers for the fault-injection suites: load generators, kill -9, and the two checks every suite
// makes — no acknowledged file is lost (every copy reads back byte-identical) and every file is
// back at its class policy.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Cluster } from "../../deploy/cluster.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { MogileError } from "../../protocol/errors.ts";
import { httpRequest } from "../../protocol/http.ts";
import { openStore, fileId, type Store } from "../../actors/runtime/mongo.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { until } from "./until.ts";

import { readAll } from "./until.ts";
export { readAll };

/** kill -9 (by default) and wait until the process has exited */
export async function kill(proc: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill(signal);
  await exited;
}

export const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

/** The metadata store as the actors see it, for checks that must not go through a tracker. */
export async function metadata(cluster: Cluster): Promise<Store> {
  return openStore(cluster.mongoUrl, cluster.db, createLogger({ role: "test" }, "error"), { indexes: false });
}

export const errCode = (err: unknown) => (err instanceof MogileError ? err.code : (err as Error)?.message ?? String(err));

/** What a load run saw: acknowledged writes (key → bytes) and every failure with its start time. */
export interface LoadResult {
  acked: Map<string, Buffer>;
  /** every body a put was tried with, acknowledged or not: a linked key must hold exactly one of these */
  tried: Map<string, Buffer>;
  errors: { op: string; code: string; startedAt: number; endedAt?: number; message?: string }[];
  ops: number;
}

/**
 * `workers` loops, each putting fresh files (and, with `reads`, get_paths of an acknowledged key
 * between puts) until `stop()` says so or `maxFiles` were tried. Never throws: failures are recorded.
 */
export async function putLoad(client: MogileClient, o: {
  domain: string; cls?: string; workers: number; stop: () => boolean; maxFiles: number; size: () => number; prefix?: string; reads?: boolean; result?: LoadResult;
}): Promise<LoadResult> {
  const r: LoadResult = o.result ?? { acked: new Map(), tried: new Map(), errors: [], ops: 0 };
  let next = 0;
  const keys: string[] = [];
  const worker = async (w: number) => {
    while (!o.stop() && next < o.maxFiles) {
      const key = `${o.prefix ?? "f"}/${w}/${next++}`;
      const body = randomBytes(o.size());
      r.tried.set(key, body);
      const t0 = Date.now();
      try {
        await client.put(o.domain, key, body, { class: o.cls });
        r.acked.set(key, body);
        keys.push(key);
      } catch (err) {
        r.errors.push({ op: "put", code: errCode(err), startedAt: t0, endedAt: Date.now(), message: (err as Error)?.message });
        // a writer that fails fast (a server gone) must not spin through its quota
        await new Promise((res) => setTimeout(res, 100));
      }
      r.ops++;
      if (o.reads && keys.length) {
        const k = keys[Math.floor(Math.random() * keys.length)];
        const t1 = Date.now();
        try {
          await client.getPaths(o.domain, k);
        } catch (err) {
          r.errors.push({ op: "get_paths", code: errCode(err), startedAt: t1, endedAt: Date.now(), message: (err as Error)?.message });
        }
        r.ops++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w)));
  return r;
}

/** Failures as `op:code@start..end ms after t0`, to read a fault's window off a test log. */
export const timeline = (errors: LoadResult["errors"], t0: number) =>
  errors.map((e) => `${e.op}:${e.code}@${e.startedAt - t0}..${(e.endedAt ?? e.startedAt) - t0}`).join(" ");

export const summarize = (errors: LoadResult["errors"]) => {
  const by = new Map<string, number>();
  for (const e of errors) by.set(`${e.op}:${e.code}`, (by.get(`${e.op}:${e.code}`) ?? 0) + 1);
  return [...by].map(([k, n]) => `${k}×${n}`).join(", ") || "none";
};

/**
 * Until every key has exactly `copies` distinct devids, none on a device in `dead`: straight from
 * the metadata, so a tracker cache cannot hide anything. Returns the files' devids.
 */
export async function waitForPolicy(store: Store, domain: string, keys: Iterable<string>, copies: number, timeoutMs: number, dead: Set<number> = new Set()): Promise<Map<string, number[]>> {
  const want = new Set(keys);
  const done = new Map<string, number[]>();
  let why = "";
  await until(async () => {
    const pending = [...want].filter((k) => !done.has(k));
    for (let i = 0; i < pending.length; i += 200) {
      const docs = await store.files.find({ _id: { $in: pending.slice(i, i + 200).map((k) => fileId(domain, k)) } }).toArray();
      for (const d of docs) {
        const ok = d.devids.length === copies && new Set(d.devids).size === d.devids.length && !d.devids.some((x) => dead.has(x));
        if (ok) done.set(d.key, d.devids);
        else why = `${d.key} has devids [${d.devids.join(",")}]`;
      }
    }
    if (done.size < want.size) why = `${want.size - done.size} of ${want.size} files not at ${copies} copies (e.g. ${why || "missing"})`;
    return done.size === want.size;
  }, timeoutMs, `every file at ${copies} copies`).catch((err: Error) => { throw new Error(`${err.message}: ${why}`); });
  return done;
}

/**
 * Every copy of every file in `files` (key → bytes) reads back byte-identical, fetched from each
 * path get_paths returns (not only the first): nothing half-written is linked anywhere.
 */
export async function verifyEveryCopy(client: MogileClient, domain: string, files: Map<string, Buffer>, minCopies = 1): Promise<void> {
  const entries = [...files];
  let next = 0;
  const problems: string[] = [];
  const worker = async () => {
    while (next < entries.length) {
      const [key, body] = entries[next++];
      try {
        const { paths } = await client.getPaths(domain, key, { pathcount: 10 });
        if (paths.length < minCopies) problems.push(`${key}: ${paths.length} readable copies`);
        for (const p of paths) {
          const res = await httpRequest(p, { method: "GET", timeoutMs: 30_000 });
          const got = await readAll(res);
          if (res.statusCode !== 200 || !got.equals(body)) problems.push(`${key}: ${p} answered ${res.statusCode} with ${got.length} of ${body.length} bytes${res.statusCode === 200 ? " (different bytes)" : ""}`);
        }
      } catch (err) {
        problems.push(`${key}: ${errCode(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  if (problems.length) throw new Error(`${problems.length} problems, e.g. ${problems.slice(0, 5).join("; ")}`);
}

/**
 * Keys that are linked in `domain` but whose bytes are none of the bodies tried for them: a linked
 * file that was never acknowledged must still be whole (create_close verified it).
 */
export async function linkedButNotAcked(store: Store, domain: string, r: LoadResult): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const docs = await store.files.find({ domain }, { projection: { key: 1 } }).toArray();
  for (const d of docs) if (!r.acked.has(d.key) && r.tried.has(d.key)) out.set(d.key, r.tried.get(d.key)!);
  return out;
}

/** Two keys naming one fid would share bytes on disk: every linked fid must be unique. */
export async function duplicateFids(store: Store, domain: string): Promise<string[]> {
  const seen = new Map<number, string>();
  const dups: string[] = [];
  for (const d of await store.files.find({ domain }, { projection: { key: 1, fid: 1 } }).toArray()) {
    const other = seen.get(d.fid);
    if (other !== undefined) dups.push(`fid ${d.fid}: ${other} and ${d.key}`);
    seen.set(d.fid, d.key);
  }
  return dups;
}

export const log = (msg: string) => process.stdout.write(`  · ${msg}\n`);
