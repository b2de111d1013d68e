// The classic-protocol half of the bench: what a MogileFS::Client-style app sees through the
// legacy tracker port — store (create_open multi_dest, one PUT on a fresh connection, as
// MogileFS::NewHTTPFile does, create_close), get_paths with and without the size check, delete —
// at 1 and 8 clients, next to MogileFS 2.73 measured on this machine with the Perl client.
import http from "node:http";
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
