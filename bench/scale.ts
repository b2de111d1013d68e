// Rates at scale (`npm run bench -- --files 1000000`, or MOGILE_BENCH_FILES): file records are
// loaded in bulk (metadata only: their copies are never read here), and get_paths, create_close
// (an SDK store), list_keys and delete are measured at 10,000 records and again at the full count.
// Each rate at the full count should be at least 80% of its rate at 10,000.
import type { Cluster } from "../deploy/cluster.ts";
import type { MogileClient } from "../protocol/client.ts";
import { openStore, fileId, type FileDoc } from "../actors/runtime/mongo.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { fmt, log, runPool, type PoolResult } from "./util.ts";

const DOMAIN = "scale";
const FID_BASE = 500_000_000;
const BATCH = 5_000;
const keyOf = (i: number) => `f/${String(i).padStart(9, "0")}`;

export async function scaleBench(cl: Cluster, c: MogileClient, total: number, phaseMs: number, body: Buffer): Promise<string[][]> {
  const store = await openStore(cl.mongoUrl, cl.db, createLogger({ role: "bench" }, "error"), { indexes: false });
  const rows: string[][] = [];
  try {
    await c.createDomain(DOMAIN).catch(() => {});
    const devids = [cl.storage[0].devids[0], cl.storage[1].devids[0]];
    let loaded = 0;
    const load = async (upTo: number) => {
      const t0 = performance.now();
      while (loaded < upTo) {
        const n = Math.min(BATCH, upTo - loaded);
        const docs: FileDoc[] = Array.from({ length: n }, (_, j) => {
          const i = loaded + j;
          return { _id: fileId(DOMAIN, keyOf(i)), fid: FID_BASE + i, domain: DOMAIN, key: keyOf(i), class: "default", length: body.length, devids, checksum: null, createdAt: new Date() };
        });
        await store.files.insertMany(docs, { ordered: false });
        loaded += n;
        if (loaded % 100_000 === 0) log(`scale: ${fmt(loaded)} records loaded (${fmt(loaded / ((performance.now() - t0) / 1000))}/s)`);
      }
      log(`scale: ${fmt(loaded)} records in place`);
    };
    // keys picked across everything loaded so far; deletes take keys no other phase uses
    let deleted = 0;
    const gone = new Set<number>();
    const measure = async (label: string) => {
      const at = loaded;
      const rate = (r: PoolResult) => r.ops / r.seconds;
      const pick = () => {
        let i = Math.floor(Math.random() * at);
        for (let n = 0; n < 10 && gone.has(i); n++) i = Math.floor(Math.random() * at);
        return keyOf(i);
      };
      const gp = await runPool({ concurrency: 8, durationMs: phaseMs, maxOps: 5_000_000 }, async () => {
        const p = await c.rpc("get_paths", { domain: DOMAIN, key: pick(), noverify: true });
        if (!p.paths.length) throw new Error("no paths");
      });
      const st = await runPool({ concurrency: 8, durationMs: phaseMs, maxOps: 1_000_000 }, (i) => c.put(DOMAIN, `new-${label}/${i}`, body));
      // deletes from the top of the loaded range down, never touching the keys get_paths may pick next
      const dl = await runPool({ concurrency: 8, durationMs: phaseMs, maxOps: Math.max(1, Math.floor(at / 10)) }, () => { const i = at - 1 - deleted++; gone.add(i); return c.rpc("delete", { domain: DOMAIN, key: keyOf(i) }); });
      // last, and one client: on the embedded FerretDB a page costs a scan of the domain, and
      // requests still running would slow whatever came next
      const lk = await runPool({ concurrency: 1, durationMs: phaseMs, maxOps: 1_000_000 }, async () => {
        const r = await c.rpc("list_keys", { domain: DOMAIN, prefix: "f/", after: pick(), limit: 1000 });
        if (!r.keys.length) throw new Error("empty page");
      });
      const r = { get_paths: rate(gp), create_close: rate(st), list_keys: rate(lk), delete: rate(dl) };
      log(`scale at ${fmt(at)}: get_paths ${fmt(r.get_paths)}/s, store ${fmt(r.create_close)}/s, list_keys ${fmt(r.list_keys)} pages/s, delete ${fmt(r.delete)}/s` +
        `${gp.errors + st.errors + lk.errors + dl.errors ? ` (errors: ${[gp, st, lk, dl].map((x) => x.firstError).filter(Boolean).join("; ")})` : ""}`);
      return r;
    };
    await load(10_000);
    const small = await measure("10k");
    await load(total);
    deleted = 0;
    const big = await measure("full");
    for (const k of Object.keys(small) as (keyof typeof small)[]) {
      const unit = k === "list_keys" ? "pages/s (1,000 keys, 1 client)" : k === "create_close" ? "files/s (store, 8 clients)" : "/s (8 clients)";
      rows.push([`${k} at ${fmt(total)} records`, `${fmt(big[k])} ${unit}`, "", `at 10,000: ${fmt(small[k])}; ${fmt((100 * big[k]) / small[k])}%`]);
    }
  } finally {
    await store.close();
  }
  return rows;
}
