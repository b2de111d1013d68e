// The classic-protocol half of the bench: what a MogileFS::Client-style app sees through the
// legacy tracker port — store (create_open multi_dest, one PUT on a fresh connection, as
// MogileFS::NewHTTPFile does, create_close), get_paths with and without the size check, delete —
// at 1 and 8 clients, next to MogileFS 2.73 measured on this machine with the Perl client.
import http from "node:http";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, createReadStream, openSync, rmSync, writeSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import { Tracker } from "../test/helpers/tracker.ts";
import { fmt, runPool, type PoolResult } from "./util.ts";

/** MogileFS 2.73 through MogileFS::Client on this machine (issue 9's table), per second */
const MOGILEFS = {
  store: { 1: 62, 8: 82 } as Record<number, number>,
  get_paths: { 8: 4_434 } as Record<number, number>,
  get_paths_verify: { 1: 840 } as Record<number, number>,
  delete: { 1: 495, 8: 431 } as Record<number, number>,
};

/** a PUT on its own connection, as the Perl client makes one */
function putFresh(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "PUT", agent: false, headers: { "content-length": body.length, connection: "close" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** `n` tracker connections handed out one request at a time */
async function connections(port: number, n: number) {
  const all = await Promise.all(Array.from({ length: n }, () => Tracker.connect(port)));
  const free = [...all];
  const waiting: ((t: Tracker) => void)[] = [];
  return {
    async use<T>(fn: (t: Tracker) => Promise<T>): Promise<T> {
      const t = free.pop() ?? (await new Promise<Tracker>((r) => waiting.push(r)));
      try { return await fn(t); } finally { const w = waiting.shift(); if (w) w(t); else free.push(t); }
    },
    close: () => { for (const t of all) t.close(); },
  };
}

export interface ClassicOptions {
  port: number;
  domain: string;
  body: Buffer;
  phaseMs: number;
  rows: string[][];
  /** wraps a phase to record the cluster's CPU while it runs */
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

export async function classicBench(o: ClassicOptions): Promise<void> {
  const rate = (r: PoolResult) => r.ops / r.seconds;
  const note = (r: PoolResult, extra = "") => [extra, r.errors ? `${r.errors} errors (${r.firstError})` : ""].filter(Boolean).join("; ");
  const vs = (ours: number, theirs: number | undefined) => (theirs ? `${fmt(theirs)} /s (${fmt(ours / theirs, 1)}×)` : "");
  const keys: Record<number, string[]> = { 1: [], 8: [] };
  for (const conc of [1, 8]) {
    const pool = await connections(o.port, conc);
    try {
      const r = await o.phase(`classic store c=${conc}`, () => runPool({ concurrency: conc, durationMs: o.phaseMs, maxOps: 100_000 }, (i) => pool.use(async (t) => {
        const key = `classic${conc}/${i}`;
        const open = await t.ok("create_open", { domain: o.domain, key, multi_dest: 1, size: o.body.length });
        const status = await putFresh(open.path_1, o.body);
        if (status < 200 || status >= 300) throw new Error(`PUT ${status}`);
        await t.ok("create_close", { domain: o.domain, key, fid: open.fid, devid: open.devid_1, path: open.path_1, size: o.body.length });
        keys[conc].push(key);
      })));
      o.rows.push([`classic store 4 KiB, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} files/s`, vs(rate(r), MOGILEFS.store[conc]), note(r, `${r.ops} files, every copy fsynced before create_close`)]);
    } finally { pool.close(); }
  }
  const stored = [...keys[1], ...keys[8]];
  if (!stored.length) throw new Error("the classic store phases stored nothing");
  for (const [conc, noverify] of [[1, 0], [8, 1], [1, 1]] as const) {
    const pool = await connections(o.port, conc);
    try {
      const r = await o.phase(`classic get_paths c=${conc}${noverify ? "" : " verify"}`, () => runPool({ concurrency: conc, durationMs: o.phaseMs, maxOps: 2_000_000 }, (i) => pool.use(async (t) => {
        const p = await t.ok("get_paths", { domain: o.domain, key: stored[i % stored.length], noverify });
        if (Number(p.paths) < 1) throw new Error("no paths");
      })));
      const theirs = noverify ? MOGILEFS.get_paths[conc] : MOGILEFS.get_paths_verify[conc];
      o.rows.push([`classic get_paths${noverify ? "" : " (size check)"}, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} /s`, vs(rate(r), theirs), note(r)]);
    } finally { pool.close(); }
  }
  for (const conc of [1, 8]) {
    const list = keys[conc];
    const pool = await connections(o.port, conc);
    try {
      const r = await o.phase(`classic delete c=${conc}`, () => runPool({ concurrency: conc, durationMs: o.phaseMs, maxOps: list.length }, (i) => pool.use((t) => t.ok("delete", { domain: o.domain, key: list[i] }))));
      o.rows.push([`classic delete, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} /s`, vs(rate(r), MOGILEFS.delete[conc]), note(r)]);
    } finally { pool.close(); }
  }
}

/** MogileFS 2.73 and mogstored on this machine, 256 MiB through the classic client (issue 9), MB/s */
const MOGILEFS_BIG = { put: "810–1,338", get: "1,528–1,886" };

export interface ClassicBigOptions {
  port: number;
  domain: string;
  /** bytes of the one big file (256 MiB in a full run) */
  size: number;
  dir: string;
  rows: string[][];
  log: (s: string) => void;
}

/**
 * A big file the way a MogileFS::Client app moves one: create_open with the size, one streamed PUT
 * to the first path, create_close; then the path fetched with curl to /dev/null (as mogstored was
 * measured) and read whole into memory (`get_file_data`). Next to it, the disk's own rate for the
 * same bytes written and fsynced (`dd conv=fsync`): every copy we acknowledge is fsynced, so that
 * rate bounds a PUT, and MogileFS's figure (page cache, no fsync) is not reachable by a durable one.
 */
export async function classicBigBench(o: ClassicBigOptions): Promise<void> {
  const src = path.join(o.dir, "big-classic.bin");
  const fd = openSync(src, "w");
  try {
    const chunk = Buffer.allocUnsafe(8 << 20);
    for (let n = 0; n < o.size; n += chunk.length) { randomFillSync(chunk); writeSync(fd, chunk, 0, Math.min(chunk.length, o.size - n)); }
  } finally { closeSync(fd); }
  const mb = (s: number) => o.size / 1e6 / s;
  const label = `${Math.round(o.size / (1 << 20))} MiB`;
  try {
    const dd = spawnSync("dd", [`if=${src}`, `of=${src}.dd`, "bs=1M", "conv=fsync"], { encoding: "utf8" }).stderr ?? "";
    rmSync(`${src}.dd`, { force: true });
    const t = await Tracker.connect(o.port);
    try {
      await t.ok("create_class", { domain: o.domain, class: "big-async", mindevcount: 2, async_copies: 1 }).catch(() => {});
      // default class: both copies written (chain) and fsynced before the answer; big-async: the ack
      // after the first fsynced copy, the second made by the replicator (MogileFS's way)
      for (const cls of ["default", "big-async"]) {
        const times: number[] = [];
        for (let round = 0; round < 2; round++) {
          const key = `big-classic/${cls}/${round}`;
          const open = await t.ok("create_open", { domain: o.domain, key, class: cls, multi_dest: 1, size: o.size });
          const t0 = performance.now();
          const status = await new Promise<number>((resolve, reject) => {
            const req = http.request(open.path_1, { method: "PUT", headers: { "content-length": o.size } }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode ?? 0)); });
            req.on("error", reject);
            createReadStream(src, { highWaterMark: 1 << 20 }).on("error", reject).pipe(req);
          });
          if (status !== 201) throw new Error(`big PUT answered ${status}`);
          await t.ok("create_close", { domain: o.domain, key, class: cls, fid: open.fid, devid: open.devid_1, path: open.path_1, size: o.size });
          times.push((performance.now() - t0) / 1000);
          await t.ok("delete", { domain: o.domain, key: `big-classic/${cls}/${round - 1}` }).catch(() => {});
        }
        o.rows.push([`classic PUT ${label}, ${cls === "default" ? "2 copies fsynced before the ack" : "ack after 1 fsynced copy (async_copies)"}`, `${fmt(mb(Math.min(...times)))} MB/s`, `${MOGILEFS_BIG.put} MB/s (1 copy, not fsynced)`, `best of 2 (${times.map((s) => fmt(mb(s))).join(", ")}); disk with fsync: ${ddRate(dd)}`]);
      }
      const p = await t.ok("get_paths", { domain: o.domain, key: "big-classic/default/1", noverify: 1 });
      const curl: number[] = [];
      for (let i = 0; i < 3; i++) {
        const out = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", p.path1]).toString().split(" ");
        if (out[0] !== "200" || Number(out[1]) !== o.size) throw new Error(`curl GET: ${out.join(" ")}`);
        curl.push(Number(out[2]));
      }
      o.rows.push([`classic storage GET ${label} (curl to /dev/null)`, `${fmt(mb(Math.min(...curl)))} MB/s`, `${MOGILEFS_BIG.get} MB/s (mogstored)`, `best of 3 (${curl.map((s) => fmt(mb(s))).join(", ")})`]);
      const data: number[] = [];
      for (let i = 0; i < 2; i++) {
        const t0 = performance.now();
        const body = await new Promise<Buffer>((resolve, reject) => {
          http.get(p.path1, (res) => { const parts: Buffer[] = []; res.on("data", (c: Buffer) => parts.push(c)); res.on("end", () => resolve(Buffer.concat(parts))); res.on("error", reject); }).on("error", reject);
        });
        if (body.length !== o.size) throw new Error(`get_file_data got ${body.length} bytes`);
        data.push((performance.now() - t0) / 1000);
      }
      o.rows.push([`classic get_file_data ${label} (whole file into memory)`, `${fmt(mb(Math.min(...data)))} MB/s`, "", `best of 2 (${data.map((s) => fmt(mb(s))).join(", ")})`]);
      await t.ok("delete", { domain: o.domain, key: "big-classic/default/1" }).catch(() => {});
      await t.ok("delete", { domain: o.domain, key: "big-classic/big-async/1" }).catch(() => {});
    } finally { t.close(); }
  } finally {
    rmSync(src, { force: true });
  }
}

/** dd's "… copied, 0.62 s, 428 MB/s" → "428 MB/s" */
const ddRate = (stderr: string) => /,\s*([\d.,]+\s*[MG]B\/s)\s*$/m.exec(stderr.trim())?.[1] ?? "?";
