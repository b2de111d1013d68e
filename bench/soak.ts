// The soak (`npm run soak`, not in CI): a private loopback cluster under mixed writes, reads and
// deletes while random actors are killed (kill -9) and restarted, for MOGILE_SOAK_SECONDS (180).
// At the end it waits for replication to settle and prints files written / verified / lost;
// lost must be 0 (exit 1 otherwise). MOGILE_SOAK_KEEP=1 keeps the data dir and logs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startCluster, type Cluster, type Role } from "../deploy/cluster.ts";
import { MogileClient } from "../protocol/client.ts";
import { MogileError } from "../protocol/errors.ts";
import { httpRequest } from "../protocol/http.ts";
import { openStore, fileId, type Store } from "../actors/runtime/mongo.ts";
import { createLogger } from "../actors/runtime/log.ts";

const SECONDS = Math.max(10, Number(process.env.MOGILE_SOAK_SECONDS ?? 180) || 180);
const WORKERS = 6;
const KILL_EVERY_MS = 8_000;
const SETTLE_MS = 300_000;
const DOMAIN = "soak";

const log = (msg: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} soak: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (err: unknown) => (err instanceof MogileError ? err.code : (err as Error)?.message ?? String(err));
const readAll = async (s: AsyncIterable<Buffer>) => { const parts: Buffer[] = []; for await (const c of s) parts.push(c); return Buffer.concat(parts); };

const dataDir = mkdtempSync(path.join(tmpdir(), "mogile-soak-"));
let cluster: Cluster | undefined;
let client: MogileClient | undefined;
let store: Store | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () => (cleaning ??= (async () => {
  await store?.close().catch(() => {});
  await client?.nc.close().catch(() => {});
  await cluster?.stop().catch((err) => log(`stop failed: ${(err as Error).message}`));
  if (process.env.MOGILE_SOAK_KEEP) log(`kept ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
})());
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => { log(`${sig}: cleaning up`); void cleanup().finally(() => process.exit(130)); });

/** key → bytes of every acknowledged write not deleted since (a failed delete keeps it here) */
const live = new Map<string, Buffer>();
const deleted = new Set<string>();
const stats = { written: 0, writeFailed: 0, reads: 0, readFailed: 0, badReads: 0, deletes: 0, deleteFailed: 0, kills: 0 };
const failures = new Map<string, number>();
const fail = (what: string, err: unknown) => failures.set(`${what}:${code(err)}`, (failures.get(`${what}:${code(err)}`) ?? 0) + 1);

async function worker(w: number, until: number): Promise<void> {
  let n = 0;
  while (Date.now() < until) {
    const roll = Math.random();
    const keys = [...live.keys()];
    if (roll < 0.55 || keys.length < 20) {
      const key = `w${w}/${n++}`;
      const body = randomBytes(500 + Math.floor(Math.random() * 200_000));
      try {
        await client!.put(DOMAIN, key, body, { class: "two" });
        live.set(key, body);
        stats.written++;
      } catch (err) { stats.writeFailed++; fail("put", err); await sleep(100); }
    } else if (roll < 0.9) {
      const key = keys[Math.floor(Math.random() * keys.length)];
      const body = live.get(key)!;
      try {
        const got = await readAll((await client!.get(DOMAIN, key)).body as AsyncIterable<Buffer>);
        stats.reads++;
        if (!got.equals(body) && live.has(key)) { stats.badReads++; log(`BAD READ ${key}: ${got.length} of ${body.length} bytes`); }
      } catch (err) { if (live.has(key)) { stats.readFailed++; fail("get", err); await sleep(100); } }
    } else {
      const key = keys[Math.floor(Math.random() * keys.length)];
      const body = live.get(key);
      if (!body) continue;
      live.delete(key); // taken out first: a concurrent read of it may legitimately fail now
      try {
        await client!.delete(DOMAIN, key);
        deleted.add(key);
        stats.deletes++;
      } catch (err) {
        stats.deleteFailed++;
        fail("delete", err);
        // unknown whether it happened: look, so the final check knows what to expect
        const still = await client!.fileInfo(DOMAIN, key).then(() => true, (e) => (e instanceof MogileError && e.code === "unknown_key" ? false : true));
        if (still) live.set(key, body);
        else deleted.add(key);
        await sleep(100);
      }
    }
  }
}

/** kill -9 a random actor (never the last of its role's siblings at once) or a storage host, then bring it back */
async function chaos(until: number): Promise<void> {
  const roles: Role[] = ["query", "replicator", "deleter", "reaper"];
  while (Date.now() < until - KILL_EVERY_MS) {
    await sleep(KILL_EVERY_MS * (0.5 + Math.random()));
    const c = cluster!;
    if (Math.random() < 0.3) {
      const s = c.storage[Math.floor(Math.random() * c.storage.length)];
      log(`kill -9 storage ${s.host}`);
      s.proc.kill("SIGKILL");
      stats.kills++;
      await sleep(2_000 + Math.random() * 4_000);
      await c.startStorage(s.host, s.devids).catch((err) => log(`restart of ${s.host} failed: ${(err as Error).message}`));
    } else {
      const role = roles[Math.floor(Math.random() * roles.length)];
      const running = c.actors.filter((a) => a.role === role && a.proc.exitCode === null && a.proc.signalCode === null);
      const victim = running[Math.floor(Math.random() * running.length)];
      if (!victim) continue;
      log(`kill -9 ${victim.instance}`);
      victim.proc.kill("SIGKILL");
      stats.kills++;
      await sleep(1_000 + Math.random() * 3_000);
      await c.spawnActor(role).catch((err) => log(`respawn of ${role} failed: ${(err as Error).message}`));
    }
  }
}

async function verify(): Promise<{ verified: number; lost: string[] }> {
  const lost: string[] = [];
  let verified = 0;
  const entries = [...live];
  let next = 0;
  const deadline = Date.now() + SETTLE_MS;
  const one = async () => {
    while (next < entries.length) {
      const [key, body] = entries[next++];
      for (;;) {
        const doc = await store!.files.findOne({ _id: fileId(DOMAIN, key) });
        if (!doc) { lost.push(`${key}: not linked`); break; }
        const copies = new Set(doc.devids).size;
        if (copies < 2 && Date.now() < deadline) { await sleep(1_000); continue; }
        const { paths } = await client!.getPaths(DOMAIN, key, { pathcount: 10 });
        let good = 0;
        for (const p of paths) {
          const res = await httpRequest(p, { method: "GET", timeoutMs: 30_000 });
          if (res.statusCode === 200 && (await readAll(res)).equals(body)) good++;
          else res.resume();
        }
        if (good === 0) lost.push(`${key}: no copy reads back (${paths.length} paths)`);
        else if (copies < 2 || good < 2) lost.push(`${key}: only ${good} good copies of ${copies} recorded (below policy after ${SETTLE_MS / 1000} s)`);
        else verified++;
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, one));
  for (const key of deleted) if (await store!.files.findOne({ _id: fileId(DOMAIN, key) })) lost.push(`${key}: deleted but still linked`);
  return { verified, lost };
}

async function main(): Promise<number> {
  log(`starting a cluster in ${dataDir} (query x2, replicator x2, deleter x2, reaper x2); ${SECONDS} s of load with kills`);
  cluster = await startCluster({ dataDir, counts: { query: 2, replicator: 2, deleter: 2, reaper: 2, gateway: 0, legacy: 0 } });
  client = await MogileClient.connect({ servers: cluster.natsUrl, name: "soak" });
  await cluster.ready(client, 60_000);
  store = await openStore(cluster.mongoUrl, cluster.db, createLogger({ role: "soak" }, "error"), { indexes: false });
  await client.createDomain(DOMAIN);
  await client.createClass(DOMAIN, "two", 2);
  const until = Date.now() + SECONDS * 1000;
  const progress = setInterval(() => log(`written ${stats.written}, live ${live.size}, reads ${stats.reads}, deletes ${stats.deletes}, kills ${stats.kills}`), 15_000);
  await Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w, until)), chaos(until)]);
  clearInterval(progress);
  log(`load over; failures seen by clients: ${[...failures].map(([k, n]) => `${k}×${n}`).join(", ") || "none"}`);
  log("waiting for replication to settle and verifying every live file's every copy ...");
  const { verified, lost } = await verify();
  for (const l of lost.slice(0, 20)) log(`LOST ${l}`);
  process.stdout.write([
    "",
    `files written:  ${stats.written}`,
    `files deleted:  ${stats.deletes}`,
    `files verified: ${verified} (every copy byte-identical, at 2 copies)`,
    `files lost:     ${lost.length}`,
    `bad reads:      ${stats.badReads}`,
    `kills:          ${stats.kills}`,
    `client errors:  put ${stats.writeFailed}, get ${stats.readFailed}, delete ${stats.deleteFailed}`,
    "",
  ].join("\n"));
  return lost.length === 0 && stats.badReads === 0 ? 0 : 1;
}

main()
  .then(async (rc) => { await cleanup(); process.exit(rc); })
  .catch(async (err) => { log(`failed: ${(err as Error).stack ?? err}`); await cleanup(); process.exit(1); });
