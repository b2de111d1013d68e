// The benchmark (`npm run bench`): starts a private cluster, measures store, get_paths, replication
// and big-file streaming rates, and prints a table next to original-MogileFS figures.
// Env: MOGILE_BENCH_QUICK=1 (smoke run), MOGILE_BENCH_QUERY / MOGILE_BENCH_REPLICATOR (actor counts),
// MOGILE_BENCH_KEEP=1 (keep the data dir and logs).
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import path from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startCluster, type Cluster } from "../deploy/cluster.ts";
import { MogileClient } from "../protocol/client.ts";
import { streams, consumers } from "../protocol/subjects.ts";
import { readText } from "../protocol/http.ts";
import { MiB, pattern, log, fmt, mib, until, runPool, patternStream, consumeChecked, table, type PoolResult } from "./util.ts";
import { rssSampler, cpuSnapshot, cpuReport, cpuPerOp } from "./procs.ts";
import { randomBytes } from "node:crypto";
import { classicBench, classicBigBench } from "./classic.ts";
import { s3Bench } from "./s3.ts";
import { scaleBench } from "./scale.ts";
import { signQuery, verifyQuery } from "../actors/runtime/urlsign.ts";

const QUICK = process.env.MOGILE_BENCH_QUICK === "1";
const PHASE_MS = QUICK ? 1_000 : 5_000;
const BURST = QUICK ? 200 : 2_000;
const BIG = QUICK ? 64 * MiB : 1024 * MiB;
const WAIT_MS = 300_000;
const DOMAIN = "bench";
const SMALL = pattern.subarray(0, 4096);
/** `--files N` (or MOGILE_BENCH_FILES): the scale run instead of the usual phases */
const SCALE = (() => {
  const i = process.argv.indexOf("--files");
  const v = i >= 0 ? process.argv[i + 1] : process.env.MOGILE_BENCH_FILES;
  const n = Number(v ?? 0);
  if (v !== undefined && !(Number.isSafeInteger(n) && n >= 10_000)) throw new Error(`--files wants a whole number of at least 10000, not ${v}`);
  return n;
})();
const envCount = (name: string) => Math.max(1, Number(process.env[name] ?? 1) || 1);

const dataDir = mkdtempSync(path.join(tmpdir(), "mogile-bench-"));
let cluster: Cluster | undefined;
let client: MogileClient | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () => (cleaning ??= (async () => {
  log("stopping cluster");
  await client?.close().catch(() => {});
  await cluster?.stop().catch((err) => log(`stop failed: ${(err as Error).message}`));
  if (process.env.MOGILE_BENCH_KEEP) log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
})());
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => { log(`${sig}: cleaning up`); void cleanup().finally(() => process.exit(130)); });
}

const rows: string[][] = [["measurement", "mogile", "MogileFS", "notes"]];
const cpuLines: string[] = [];
const rate = (r: PoolResult) => r.ops / r.seconds;
const errNote = (r: PoolResult) => (r.errors ? `${r.errors} errors (${r.firstError})` : "");
const checkLength = (n: number, what: string) => { if (n !== BIG) throw new Error(`${what} got ${n} of ${BIG} bytes`); };

async function main(): Promise<void> {
  const counts = { query: envCount("MOGILE_BENCH_QUERY"), replicator: envCount("MOGILE_BENCH_REPLICATOR") };
  log(`starting cluster in ${dataDir} (query x${counts.query}, replicator x${counts.replicator}${QUICK ? ", quick" : ""})`);
  const cl = (cluster = await startCluster({ dataDir, logs: "files", counts }));
  const c = (client = await cl.connectClient("operator", "bench"));
  await cl.ready(c, 60_000);
  if (SCALE) {
    rows.push(...(await scaleBench(cl, c, SCALE, PHASE_MS, SMALL)));
    process.stdout.write(`\nmogile scale bench: ${fmt(SCALE)} file records\n\n${table(rows)}\n`);
    return;
  }
  await c.createDomain(DOMAIN);
  await securityCost(cl);
  const jsm = await jetstreamManager(c.nc);
  const labels = new Map<number, string>([...cl.actors.map((a) => [a.proc.pid!, a.instance] as const), ...cl.storage.map((s) => [s.proc.pid!, `storage-${s.host}`] as const)]);

  /** runs fn, logging and keeping the CPU breakdown of the cluster while it ran */
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const [before, t0] = [cpuSnapshot(dataDir, labels), performance.now()];
    const out = await fn();
    const after = cpuSnapshot(dataDir, labels);
    const ops = (out as { ops?: unknown })?.ops;
    cpuLines.push(`${name}: ${cpuReport(before, after, (performance.now() - t0) / 1000)}${typeof ops === "number" ? `\n    ${cpuPerOp(before, after, ops, "op")}` : ""}`);
    log(`cpu ${cpuLines.at(-1)}`);
    return out;
  };
  const queueIdle = async (jm: JetStreamManager) => {
    const [s, ci] = await Promise.all([jm.streams.info(streams.replicate), jm.consumers.info(streams.replicate, consumers.replicator)]);
    return s.state.messages === 0 && ci.num_ack_pending === 0 && ci.num_pending === 0;
  };
  const settle = async (what: string) => {
    const t0 = performance.now();
    await until(() => queueIdle(jsm), WAIT_MS, `replication queue to drain (${what})`, 200);
    log(`replication queue drained after ${what} in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  };

  // 1. small-file store rate, after an unmeasured warm-up (JIT, tsx, connection pools, metadata caches)
  log("warming up ...");
  const warm = await runPool({ concurrency: 8, durationMs: PHASE_MS / 2, maxOps: 2_000 }, (i) => c.put(DOMAIN, `warm/${i}`, SMALL));
  if (warm.errors) log(`warm-up: ${errNote(warm)}`);
  await settle("warm-up");
  const stored: string[] = [];
  for (const conc of [1, 8]) {
    log(`storing 4 KiB files, concurrency ${conc} ...`);
    const r = await phase(`store c=${conc}`, () => runPool({ concurrency: conc, durationMs: PHASE_MS, maxOps: 200_000 }, async (i) => {
      await c.put(DOMAIN, `s${conc}/${i}`, SMALL);
      stored.push(`s${conc}/${i}`);
    }));
    rows.push([`store 4 KiB, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} files/s`, conc === 8 ? "85 files/s" : "", `${r.ops} files${r.errors ? "; " + errNote(r) : ""}`]);
  }
  if (!stored.length) throw new Error("no file was stored");
  await settle("store phases");

  // 2. get_paths rate
  for (const conc of [1, 8, 64]) {
    log(`get_paths (noverify), concurrency ${conc} ...`);
    const r = await phase(`get_paths c=${conc}`, () => runPool({ concurrency: conc, durationMs: PHASE_MS, maxOps: 5_000_000 }, async (i) => {
      const p = await c.rpc("get_paths", { domain: DOMAIN, key: stored[i % stored.length], noverify: true, pathcount: 2 });
      if (!p.paths.length) throw new Error(`no paths for ${stored[i % stored.length]}`);
    }));
    rows.push([`get_paths, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} /s`, conc === 8 ? "4,600 /s" : "", errNote(r)]);
  }

  // 2b. delete rate through the SDK (the deleter removes the bytes later)
  for (const conc of [1, 8]) {
    const mine = stored.filter((k) => k.startsWith(`s${conc}/`));
    const r = await phase(`delete c=${conc}`, () => runPool({ concurrency: conc, durationMs: PHASE_MS, maxOps: mine.length }, (i) => c.rpc("delete", { domain: DOMAIN, key: mine[i] })));
    rows.push([`delete, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} /s`, "", errNote(r)]);
  }

  // 2c. the classic MogileFS protocol, as MogileFS::Client uses it
  log("classic protocol: store, get_paths, delete at 1 and 8 clients ...");
  await classicBench({ port: cl.legacyPort, domain: DOMAIN, body: SMALL, phaseMs: PHASE_MS, rows, phase });
  log("classic big file: streamed PUT, curl GET, get_file_data ...");
  await classicBigBench({ port: cl.legacyPort, domain: DOMAIN, size: QUICK ? 64 * MiB : 256 * MiB, dir: dataDir, rows, log });
  // the async_copies file's replicate job outlives the file (deleted right after its PUT): the job
  // waits out the replicator's 60 s link grace, which the burst below must not count as its own
  await settle("classic big files");

  // 3. replication of a burst
  log(`replication burst: storing ${BURST} files at concurrency 32 ...`);
  const burstKeys: string[] = [];
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const w = await phase("burst write", () => runPool({ concurrency: 32, durationMs: WAIT_MS, maxOps: BURST }, async (i) => {
    await c.put(DOMAIN, `burst/${i}`, SMALL);
    burstKeys.push(`burst/${i}`);
  }));
  const writeS = elapsed();
  log(`burst written in ${fmt(writeS, 2)} s; waiting for replication ...`);
  if (!burstKeys.length) throw new Error(`burst stored nothing: ${errNote(w)}`);
  const sample = Array.from({ length: Math.min(100, burstKeys.length) }, (_, i) => burstKeys[Math.floor((i * burstKeys.length) / Math.min(100, burstKeys.length))]);
  await phase("burst replication", () => until(async () => {
    if (!(await queueIdle(jsm))) return false;
    const infos = await Promise.all(sample.map((k) => c.fileInfo(DOMAIN, k)));
    return infos.every((f) => f.devcount === 2);
  }, WAIT_MS - writeS * 1000, "burst replication (queue empty, sample devcount 2)", 50));
  const totalS = elapsed();
  rows.push([`${fmt(BURST)}-file burst: write, 32 clients`, `${fmt(writeS, 2)} s`, "", `${fmt(w.ops / writeS)} files/s${w.errors ? "; " + errNote(w) : ""}`]);
  rows.push([`${fmt(BURST)}-file burst: fully replicated`, `${fmt(totalS, 2)} s`, "13–16 s", `from burst start; ${sample.length}-key sample verified`]);

  // 4. big-file streaming, SDK and HTTP gateway
  const gateway = cl.actors.find((a) => a.role === "gateway")!;
  const storagePids = cl.storage.map((s) => s.proc.pid!);
  const big = async (label: string, fn: () => Promise<void>) => {
    log(`${label} (${mib(BIG)}) ...`);
    const sampler = rssSampler([gateway.proc.pid!, ...storagePids]);
    const t = performance.now();
    await phase(label, fn);
    const s = (performance.now() - t) / 1000;
    const { start, peak } = sampler.stop();
    const worst = storagePids.reduce((a, p) => ((peak.get(p) ?? 0) > (peak.get(a) ?? 0) ? p : a));
    const rss = (p: number) => `${mib(peak.get(p) ?? 0)} (from ${mib(start.get(p) ?? 0)})`;
    const note = `peak RSS: storage ${rss(worst)}, gateway ${rss(gateway.proc.pid!)}`;
    rows.push([`${mib(BIG)} ${label}`, `${fmt(BIG / 1e6 / s, 1)} MB/s`, "", note]);
  };
  const replicated = async (key: string) => {
    const t = performance.now();
    await until(async () => (await c.fileInfo(DOMAIN, key)).devcount === 2 && (await queueIdle(jsm)), WAIT_MS, `${key} replicated`, 200);
    log(`${key} replicated in ${fmt((performance.now() - t) / 1000, 1)} s`);
  };
  await big("upload, SDK", async () => void (await c.put(DOMAIN, "big/sdk", patternStream(BIG), { size: BIG, timeoutMs: 120_000 })));
  await replicated("big/sdk");
  await big("download, SDK", async () => {
    checkLength(await consumeChecked((await c.get(DOMAIN, "big/sdk", { timeoutMs: 120_000 })).body), "SDK download");
  });
  const url = `${cl.httpUrl}/v1/domains/${DOMAIN}/files/big/http`;
  await big("upload, HTTP gateway", async () => {
    const res = await gatewayRequest("PUT", url, cl.adminKey, BIG);
    const text = await readText(res);
    if (res.statusCode !== 201) throw new Error(`gateway PUT: ${res.statusCode} ${text}`);
  });
  await replicated("big/http");
  await big("download, HTTP gateway", async () => {
    const res = await gatewayRequest("GET", url, cl.adminKey);
    if (res.statusCode !== 200) throw new Error(`gateway GET: ${res.statusCode} ${await readText(res)}`);
    checkLength(await consumeChecked(res), "gateway download");
  });

  // 5. the S3 API
  await s3Bench({ cl, body: SMALL, big: BIG, phaseMs: PHASE_MS, rows, phase });

  process.stdout.write(`\nmogile bench${QUICK ? " (QUICK)" : ""}: ${cl.storage.length} hosts x ${cl.storage[0].devids.length} devices, ` +
    `query x${counts.query}, replicator x${counts.replicator}, 4 KiB files with 2 copies\n\n${table(rows)}\n\nCPU by process, % of one core (machine: ${cpus().length} cores), during each phase:\n`);
  for (const l of cpuLines) process.stdout.write(`  ${l}\n`);
}

/**
 * What the security issue costs: an HMAC per storage URL (signed by create_open, checked by the
 * storage agent on each PUT) and an nkey challenge when a NATS connection opens (nothing per message).
 */
async function securityCost(cl: Cluster): Promise<void> {
  const key = randomBytes(32);
  const n = QUICK ? 20_000 : 200_000;
  let q = "";
  let t = performance.now();
  for (let i = 0; i < n; i++) q = signQuery(key, { method: "PUT", devid: 1, fid: i, expires: 2e9, maxLength: 4096 });
  const signUs = ((performance.now() - t) * 1000) / n;
  const params = new URLSearchParams(q);
  t = performance.now();
  for (let i = 0; i < n; i++) if (!verifyQuery(key, "PUT", 1, n - 1, params).ok) throw new Error("verify failed");
  const verifyUs = ((performance.now() - t) * 1000) / n;
  const connects = 20;
  t = performance.now();
  for (let i = 0; i < connects; i++) await (await cl.connectClient("app", "bench-connect")).close();
  const connectMs = (performance.now() - t) / connects;
  rows.push(["sign a storage URL (HMAC-SHA256)", `${fmt(signUs, 1)} µs`, "", "once per create_open (and get_paths of signed-GET domains)"]);
  rows.push(["verify a signed URL", `${fmt(verifyUs, 1)} µs`, "", "once per storage PUT"]);
  rows.push(["NATS connect with nkey auth", `${fmt(connectMs, 1)} ms`, "", "per connection; messages carry no per-message auth cost"]);
}

/** One plain node:http request to the gateway with a key: a PUT streams `size` pattern bytes; resolves with the response. */
function gatewayRequest(method: "PUT" | "GET", url: string, key: string, size = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const auth = { authorization: `Bearer ${key}` };
    const headers = method === "PUT" ? { ...auth, "content-length": size, "content-type": "application/octet-stream" } : auth;
    const req = http.request(url, { method, headers }, resolve).on("error", reject);
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${url} idle for 120 s`)));
    if (method === "PUT") patternStream(size).pipe(req);
    else req.end();
  });
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  log(`failed: ${(err as Error)?.stack ?? err}`);
  log(`actor logs are in ${dataDir}/logs (set MOGILE_BENCH_KEEP=1 to keep them)`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
