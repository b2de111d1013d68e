// The metadata server a cluster uses: MOGILE_MONGO_URL if set; else mongod as a one-node replica
// set; else the embedded FerretDB on PostgreSQL (with mogile's atomicity guard, deploy/metadata-guard.sql).
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, existsSync, readdirSync, readFileSync, writeFileSync, chownSync, chmodSync, appendFileSync, lstatSync, readlinkSync, realpathSync, rmdirSync, symlinkSync, type Stats } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { MongoClient } from "mongodb";
import { ensureSecretsDir, secretsDir, writeSecretOnce } from "./secrets.ts";
import { REPO, TOOLS, freePort, logFile, stopProcess, waitForPort, type Service } from "./services.ts";

const pgBin = (): string | null => {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, "bin", "initdb"))).sort((a, b) => Number(a) - Number(b));
  return versions.length ? path.join(base, versions[versions.length - 1], "bin") : null;
};
const isRoot = () => process.getuid?.() === 0;
/** PostgreSQL refuses to run as root: run its tools as the `postgres` user then. */
function pgRun(bin: string, args: string[], opts: { stdio?: "ignore" | "pipe"; input?: string } = {}): string {
  const [cmd, argv] = isRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  try {
    return execFileSync(cmd, argv, { stdio: [opts.input === undefined ? "ignore" : "pipe", opts.stdio === "ignore" ? "ignore" : "pipe", "pipe"], input: opts.input, encoding: "utf8" }) ?? "";
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${path.basename(bin)} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/**
 * The password FerretDB uses to reach PostgreSQL over TCP: generated at the first start, kept in
 * the data dir (mode 0600, readable by this user only).
 */
function pgPassword(dataDir: string): string {
  ensureSecretsDir(dataDir);
  const file = writeSecretOnce(path.join(secretsDir(dataDir), "postgres-password"), randomBytes(24).toString("base64url") + "\n");
  const pw = readFileSync(file, "utf8").trim();
  if (!/^[A-Za-z0-9_-]{16,}$/.test(pw)) throw new Error(`${file} does not hold a password mogile generated`);
  return pw;
}

/** Whether the `postgres` user can enter `dir` (every directory above it must let it through). */
function postgresCanEnter(dir: string): boolean {
  try {
    execFileSync("runuser", ["-u", "postgres", "--", "test", "-x", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Where PostgreSQL keeps its data when the postgres user cannot reach the data dir (issue 11). */
const PG_OUTSIDE = "/var/lib/mogile";

/**
 * As root, PostgreSQL runs as `postgres`, which cannot reach `<dataDir>/pg` when a parent of the
 * data dir is private (a checkout under /root, mode 0700); the operator's directories keep their
 * modes. PostgreSQL's data then lives in /var/lib/mogile/pg-<hash of the data dir's real path>,
 * and `<dataDir>/pg` is a symlink to it, so operators see where it is. Returns that directory
 * (its real path), or null to keep `<dataDir>/pg` itself: reachable, or an existing install.
 */
async function pgDirOutside(dataDir: string, uid: number, gid: number): Promise<string | null> {
  const link = path.join(dataDir, "pg");
  let st: Stats | null = null;
  try { st = lstatSync(link); } catch { /* none yet */ }
  if (st?.isSymbolicLink()) {
    // set up on an earlier start (the data dir may have moved since: the link says where)
    const target = path.resolve(dataDir, readlinkSync(link));
    if (!existsSync(target)) {
      throw new Error(`${link} points to ${target}, which is gone: restore it, or remove ${link} to start with empty metadata`);
    }
    return realpathSync(target);
  }
  if (st?.isDirectory() && existsSync(path.join(link, "PG_VERSION"))) return null; // an existing install
  const real = realpathSync(dataDir);
  if (postgresCanEnter(path.dirname(real))) return null;
  if (st) {
    // an empty pg dir left by a start that failed here before (initdb: Permission denied)
    if (!st.isDirectory()) throw new Error(`${link} is neither a directory nor a symlink: move it away`);
    try { rmdirSync(link); } catch (err) {
      throw new Error(`${link} holds files but no PostgreSQL data directory (${(err as Error).message}): move it away`);
    }
  }
  const target = path.join(PG_OUTSIDE, `pg-${createHash("sha256").update(real).digest("hex").slice(0, 16)}`);
  if (!existsSync(PG_OUTSIDE)) {
    mkdirSync(PG_OUTSIDE, { recursive: true, mode: 0o755 });
    chownSync(PG_OUTSIDE, 0, 0);
    chmodSync(PG_OUTSIDE, 0o755);
  }
  if (existsSync(path.join(target, "PG_VERSION"))) {
    // never hand an earlier data dir's metadata to a fresh one silently
    throw new Error(`${target} holds the metadata of an earlier data dir at ${real}: to keep it, ln -s ${target} ${link}; to start afresh, remove ${target}`);
  }
  mkdirSync(target, { recursive: true, mode: 0o700 });
  chownSync(target, uid, gid);
  chmodSync(target, 0o700);
  symlinkSync(target, link);
  process.stderr.write(`mogile: the postgres user cannot reach ${real}: PostgreSQL keeps its data in ${target} (${link} points there)\n`);
  return target;
}

async function startPostgres(o: { dataDir: string; port: number; logDir: string }): Promise<Service & { url: string; bin: string; socketDir: string; port: number }> {
  const bin = pgBin();
  if (!bin) throw new Error("PostgreSQL is not installed: run deploy/setup.sh");
  let dir = path.join(o.dataDir, "pg");
  if (!isRoot()) {
    mkdirSync(dir, { recursive: true });
  } else {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    mkdirSync(o.dataDir, { recursive: true });
    const away = await pgDirOutside(o.dataDir, uid, gid);
    if (away) {
      dir = away; // its real path: the socket directory, pg_ctl -D and psql -h all use it
    } else {
      // the postgres user must be able to reach its directory inside our data dir
      mkdirSync(dir, { recursive: true });
      chmodSync(o.dataDir, 0o711);
      chownSync(dir, uid, gid);
    }
  }
  if (!existsSync(path.join(dir, "PG_VERSION"))) {
    pgRun(path.join(bin, "initdb"), ["-D", dir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], { stdio: "ignore" });
    appendFileSync(path.join(dir, "postgresql.conf"), [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "max_connections = 200",
      "shared_buffers = 128MB",
      "",
    ].join("\n"));
  }
  // Who may connect: the unix socket lives in the data directory, which only its owner can
  // enter (initdb makes it 0700), and is trusted; TCP needs the generated password (FerretDB
  // connects over TCP). Rewritten on every start, so data dirs made before this are tightened too.
  writeFileSync(path.join(dir, "pg_hba.conf"), [
    "# written by mogile (deploy/metadata.ts) on every start",
    "local all all trust",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host all all ::1/128 scram-sha-256",
    "",
  ].join("\n"));
  const password = pgPassword(o.dataDir);
  // the port can change between runs: pass it on the command line
  const logPath = path.join(dir, "server.log");
  try { pgRun(path.join(bin, "pg_ctl"), ["-D", dir, "stop", "-m", "fast"], { stdio: "ignore" }); } catch { /* not running */ }
  // every acknowledged metadata write is durable (commits are fsynced, grouped under load);
  // MOGILE_PG_SYNC_COMMIT=off trades the last few hundred ms of commits on power loss for speed
  const syncCommit = process.env.MOGILE_PG_SYNC_COMMIT === "off" ? "off" : "on";
  pgRun(path.join(bin, "pg_ctl"), ["-D", dir, "-l", logPath, "-o", `-p ${o.port} -c synchronous_commit=${syncCommit}`, "-w", "-t", "60", "start"], { stdio: "ignore" });
  const socket = ["-h", dir, "-p", String(o.port), "-U", "postgres"];
  // the password on stdin, never on a command line
  pgRun(path.join(bin, "psql"), [...socket, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q"], { stdio: "ignore", input: `ALTER USER postgres PASSWORD '${password}';\n` });
  const has = pgRun(path.join(bin, "psql"), [...socket, "-tAc", "SELECT 1 FROM pg_database WHERE datname='ferretdb'"]);
  if (!has.includes("1")) pgRun(path.join(bin, "createdb"), [...socket, "ferretdb"], { stdio: "ignore" });
  // single-document atomicity for FerretDB (see the file): before FerretDB creates any table.
  // Passed inline: the postgres user may not be able to read files under our checkout
  const guard = readFileSync(path.join(REPO, "deploy", "metadata-guard.sql"), "utf8");
  pgRun(path.join(bin, "psql"), [...socket, "-d", "ferretdb", "-v", "ON_ERROR_STOP=1", "-q", "-c", guard], { stdio: "ignore" });
  // FerretDB sends every lookup as one cached statement, `_jsonb->$1 @> $2`. Planned generically
  // (PostgreSQL's choice after five executions, likelier while statistics lag a bulk load), the
  // field is unknown, so no expression index applies and each lookup scans the table: 0.06 ms
  // became 150 ms at 200k files. A plan for the actual field every time keeps lookups on the
  // GIN indexes (ferretIndexes).
  pgRun(path.join(bin, "psql"), [...socket, "-d", "ferretdb", "-v", "ON_ERROR_STOP=1", "-q", "-c", "ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan"], { stdio: "ignore" });
  return {
    name: "postgres", proc: null, bin, socketDir: dir, port: o.port,
    url: `postgres://postgres:${password}@127.0.0.1:${o.port}/ferretdb`,
    async stop() { try { pgRun(path.join(bin, "pg_ctl"), ["-D", dir, "stop", "-m", "fast", "-w"], { stdio: "ignore" }); } catch { /* already down */ } },
  };
}

/**
 * metadataDiagnostics' answer in a few lines, for the end of a failure's output (where a truncated
 * log still shows it): PostgreSQL sessions by state and wait, the oldest transaction, and how many
 * of FerretDB's goroutines wait for a pooled PostgreSQL connection.
 */
export function summarizeMetadataDiagnostics(text: string): string {
  if (!text) return "no embedded metadata server here";
  const lines = text.split("\n");
  const out: string[] = [];
  const start = lines.indexOf("pg_stat_activity:");
  if (start >= 0) {
    const end = lines.indexOf("postgres log:", start);
    const sessions = lines.slice(start + 1, end > start ? end : undefined).filter((l) => /^\d+\|/.test(l))
      .map((l) => { const f = l.split("|"); return [...f.slice(0, 5), f.slice(5).join("|")]; });
    const by = new Map<string, number>();
    for (const f of sessions) {
      const k = `${f[1] || "?"}${f[2] ? ` (${f[2]})` : ""}`;
      by.set(k, (by.get(k) ?? 0) + 1);
    }
    const oldest = sessions.find((f) => f[3]);
    out.push(`postgres: ${sessions.length} sessions: ${[...by].map(([k, n]) => `${n} ${k}`).join(", ") || "none"}` +
      (oldest ? `; oldest transaction ${oldest[3]} (${oldest[1]}): ${(oldest[5] ?? "").slice(0, 100)}` : ""));
  } else {
    const why = lines.find((l) => l.startsWith("pg_stat_activity: unavailable"));
    if (why) out.push(`postgres: ${why}`);
  }
  const g = lines.findIndex((l) => l.startsWith("ferretdb goroutines"));
  if (g >= 0 && lines[g] !== "ferretdb goroutines:") out.push(lines[g]);
  else if (g >= 0) {
    // pprof debug=1: "goroutine profile: total N", then groups "K @ 0x…" followed by "#\t0x… func+0x… file:line"
    const total = lines.slice(g + 1).find((l) => l.startsWith("goroutine profile:")) ?? "goroutine profile: ?";
    let acquiring = 0, n = 0, inGroup = false;
    for (const l of lines.slice(g + 1)) {
      const head = /^(\d+) @ /.exec(l);
      if (head) { n = Number(head[1]); inGroup = true; continue; }
      if (inGroup && /pgxpool\.\(\*Pool\)\.Acquire|puddle.*Acquire/.test(l)) { acquiring += n; inGroup = false; }
      if (!l.trim()) inGroup = false;
    }
    out.push(`ferretdb: ${total.replace("goroutine profile: ", "goroutines ")}, ${acquiring} waiting for a PostgreSQL connection`);
  }
  const log = lines.indexOf("ferretdb log:");
  const errors = log < 0 ? [] : lines.slice(log + 1, g > log ? g : undefined).filter((l) => /error|panic/i.test(l));
  if (errors.length) out.push(`ferretdb log, last error: ${errors.at(-1)!.slice(0, 200)}`);
  return out.join("\n");
}

/**
 * For a failed test: what the embedded metadata server of `dataDir` was doing (PostgreSQL's
 * sessions and locks waited for, the last lines of its and FerretDB's logs); "" without one.
 */
export function metadataDiagnostics(dataDir: string, logDir = path.join(dataDir, "logs"), exec: string[] = []): string {
  const bin = pgBin();
  const dir = path.join(dataDir, "pg");
  if (!bin || !existsSync(dir)) return "";
  const out: string[] = [];
  // the guard's refusals and duplicate keys are routine (the writer retries): left out
  const routine = /mogile_conflict|mogile_gone|duplicate key|^\S+ \S+ UTC \[\d+\] (CONTEXT|STATEMENT|DETAIL): /;
  const tail = (file: string, n = 20) => {
    try { return readFileSync(file, "utf8").split("\n").filter((l) => !routine.test(l)).slice(-n - 1).join("\n"); } catch { return "(none)"; }
  };
  try {
    const real = realpathSync(dir);
    const port = readFileSync(path.join(real, "postmaster.pid"), "utf8").split("\n")[3]?.trim();
    out.push("pg_stat_activity:", pgRun(path.join(bin, "psql"), ["-h", real, "-p", String(port), "-U", "postgres", "-d", "ferretdb", "-At", "-c",
      "SELECT pid, state, wait_event_type || ':' || wait_event, now() - xact_start, now() - query_start, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) FROM pg_stat_activity WHERE datname = 'ferretdb' AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST",
    ], { stdio: "pipe" }));
  } catch (err) {
    out.push(`pg_stat_activity: unavailable (${(err as Error).message.split("\n")[0]})`);
  }
  try { out.push("postgres log:", tail(path.join(realpathSync(dir), "server.log"))); } catch { /* none */ }
  out.push("ferretdb log:", tail(path.join(logDir, "ferretdb.log")));
  // FerretDB's goroutines, grouped (MOGILE_FERRETDB_DEBUG=1); `exec` runs curl where it listens
  const debugFile = path.join(dataDir, "ferretdb", "debug-addr");
  if (existsSync(debugFile)) {
    try {
      const url = `http://${readFileSync(debugFile, "utf8").trim()}/debug/pprof/goroutine?debug=1`;
      const [cmd, ...args] = [...exec, "curl", "-s", "-m", "10", url];
      out.push("ferretdb goroutines:", execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 }).slice(0, 200_000));
    } catch (err) {
      out.push(`ferretdb goroutines: unavailable (${(err as Error).message.split("\n")[0]})`);
    }
  }
  return out.join("\n");
}

/**
 * FerretDB's PostgreSQL URL. Its pool is 50 connections unless told, and every open cursor holds
 * one until it is exhausted or closed: a few hundred actor connections across machines could wait
 * in the pool while PostgreSQL (max_connections 200) had room. 150 leaves PostgreSQL's reserved
 * and operator sessions free.
 */
const ferretPgUrl = (url: string) => `${url}${url.includes("?") ? "&" : "?"}pool_max_conns=150`;

export interface Metadata { url: string; services: Service[]; afterBootstrap(db: string): Promise<void> }

/**
 * The metadata server: `url` (a node config's MongoDB) or MOGILE_MONGO_URL, else mongod, else
 * FerretDB on PostgreSQL. `listen`: the address the embedded server answers on (other machines
 * reach it there; PostgreSQL behind it stays on loopback).
 */
export async function startMetadata(o: { dataDir: string; logDir: string; port?: number; listen?: string; url?: string }): Promise<Metadata> {
  const given = o.url ?? process.env.MOGILE_MONGO_URL;
  if (given) return { url: given, services: [], afterBootstrap: async () => {} };
  const listen = o.listen ?? "127.0.0.1";
  const port = o.port ?? (await freePort(listen));
  if (hasMongod()) return startMongod({ ...o, port, listen });
  // a free port can be taken by someone else before we bind it: try again on another (tests run
  // many clusters on one machine); a fixed port is tried once
  const attempts = o.port ? 1 : 3;
  let pg: Awaited<ReturnType<typeof startPostgres>> | null = null;
  for (let i = 1; !pg; i++) {
    try {
      pg = await startPostgres({ ...o, port: await freePort() });
    } catch (err) {
      if (i >= 3) throw err;
    }
  }
  const state = path.join(o.dataDir, "ferretdb");
  mkdirSync(state, { recursive: true });
  const fd = logFile(o.logDir, "ferretdb");
  const pgUrl = ferretPgUrl(pg.url);
  for (let i = 1; ; i++) {
    const p = i === 1 ? port : await freePort(listen);
    // MOGILE_FERRETDB_DEBUG=1 (tests): FerretDB's pprof handler on a loopback port, noted in the
    // state dir for metadataDiagnostics (goroutine dumps when the server stalls)
    let debug = "-";
    if (process.env.MOGILE_FERRETDB_DEBUG === "1") {
      debug = `127.0.0.1:${await freePort()}`;
      writeFileSync(path.join(state, "debug-addr"), debug);
    }
    const proc = spawn(path.join(TOOLS, "ferretdb"), [
      "--handler=postgresql",
      `--listen-addr=${listen}:${p}`, "--repl-set-name=rs0",
      `--state-dir=${state}`, `--debug-addr=${debug}`, "--telemetry=disable", "--log-level=error",
    ], { stdio: ["ignore", fd, fd], env: { ...process.env, DO_NOT_TRACK: "1", FERRETDB_POSTGRESQL_URL: pgUrl }, detached: true }); // the URL holds the password: not on the command line
    try {
      await waitForPort(p, 30_000, "ferretdb", proc, listen);
    } catch (err) {
      await stopProcess(proc, 1_000);
      if (i >= attempts) { await pg.stop(); throw err; }
      continue;
    }
    const ferret: Service = { name: "ferretdb", proc, stop: () => stopProcess(proc), env: { FERRETDB_POSTGRESQL_URL: pgUrl } };
    const pgDone = pg;
    return {
      url: `mongodb://${listen === "0.0.0.0" ? "127.0.0.1" : listen}:${p}/?replicaSet=rs0`,
      services: [ferret, pgDone],
      afterBootstrap: async (db) => ferretIndexes(pgDone.bin, pgDone.socketDir, pgDone.port, db),
    };
  }
}

function hasMongod(): boolean {
  try { execFileSync("sh", ["-c", "command -v mongod"], { stdio: "ignore" }); return true; } catch { return false; }
}

async function startMongod(o: { dataDir: string; logDir: string; port: number; listen?: string }): Promise<Metadata> {
  const host = !o.listen || o.listen === "0.0.0.0" ? "127.0.0.1" : o.listen;
  const dbpath = path.join(o.dataDir, "mongod");
  mkdirSync(dbpath, { recursive: true });
  const fd = logFile(o.logDir, "mongod");
  const proc = spawn("mongod", ["--replSet", "rs0", "--port", String(o.port), "--bind_ip", host === "127.0.0.1" ? host : `127.0.0.1,${host}`, "--dbpath", dbpath], { stdio: ["ignore", fd, fd] });
  await waitForPort(o.port, 30_000, "mongod", proc);
  const c = new MongoClient(`mongodb://127.0.0.1:${o.port}/?directConnection=true`);
  await c.connect();
  await c.db("admin").command({ replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: `${host}:${o.port}` }] } }).catch(() => { /* initiated already */ });
  await c.close();
  return { url: `mongodb://${host}:${o.port}/?replicaSet=rs0`, services: [{ name: "mongod", proc, stop: () => stopProcess(proc) }], afterBootstrap: async () => {} };
}

/**
 * FerretDB v1 creates its indexes as btree indexes that its own queries (`_jsonb->'f' @> …`)
 * cannot use, so every lookup is a table scan. GIN expression indexes on the fields our hot
 * queries filter by make those lookups index scans. Needed only for FerretDB; idempotent.
 */
export const FERRET_GIN_FIELDS: Record<string, string[]> = {
  // devids: files with a copy on a device (drain, rebalance, dead-device recovery)
  // _gone: documents deleted through the store layer, removed a few seconds later (atomic.ts)
  files: ["_id", "fid", "domain", "class", "devids", "_gone"],
  domains: ["_id"],
  classes: ["_id", "domain"],
  hosts: ["_id", "hostname"],
  devices: ["_id", "hostid"],
  settings: ["_id"],
  counters: ["_id"],
  deadletters: ["_id"],
  tasks: ["_id"],
  fscklog: ["_id", "_gone"],
  keys: ["_id"],
};

async function ferretIndexes(bin: string, socketDir: string, port: number, db: string): Promise<void> {
  const psql = (sql: string) => pgRun(path.join(bin, "psql"), ["-h", socketDir, "-p", String(port), "-U", "postgres", "-d", "ferretdb", "-v", "ON_ERROR_STOP=1", "-tAc", sql]);
  const schema = db.replace(/[^a-z0-9_]/gi, "");
  for (const [collection, fields] of Object.entries(FERRET_GIN_FIELDS)) {
    const table = psql(`SELECT _jsonb->>'table' FROM "${schema}"._ferretdb_database_metadata WHERE _jsonb->>'_id' = '${collection}'`).trim();
    if (!/^[a-z0-9_]+$/.test(table)) continue; // collection not created yet
    for (const f of fields) {
      const idx = `${table}_gin_${f.replace(/[^a-z0-9]/gi, "")}`.slice(0, 63);
      // fastupdate off: with it, new entries wait in a pending list that every lookup scans in
      // full until a vacuum merges it (after 150k inserts, get_paths fell from 725/s to 185/s)
      psql(`CREATE INDEX IF NOT EXISTS "${idx}" ON "${schema}"."${table}" USING gin ((_jsonb->'${f}') jsonb_path_ops) WITH (fastupdate = off)`);
      psql(`ALTER INDEX "${schema}"."${idx}" SET (fastupdate = off); SELECT gin_clean_pending_list('"${schema}"."${idx}"'::regclass)`);
    }
  }
}

