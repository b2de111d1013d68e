// Several machines (Linux network namespaces joined through a bridge; test/helpers/netns.ts), each
// started as an operator would: `deploy/launch.ts --config <machine>/node.json` from configs made by
// deploy/generate.ts. Each runs a node of one NATS cluster (R3 streams and buckets), a storage host
// with two devices in its own zone, and every actor; m1 also runs the embedded metadata server.
// Clients run inside the machines. Needs root (CI runs as root); skipped otherwise.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execFileSync, type ChildProcess } from "node:child_process";
import { Net, canUseNetns, type Machine } from "./helpers/netns.ts";
import { tempDir } from "./helpers/until.ts";
import { generate } from "../deploy/generate.ts";
import { REPO } from "../deploy/services.ts";
import { metadataDiagnostics, summarizeMetadataDiagnostics } from "../deploy/metadata.ts";

interface Ctx { net: Net; dir: string; launchers: Map<string, ChildProcess>; servers: string; admin: string; app: string }
const t = suite<Ctx>("hosts");
const enabled = canUseNetns();

const DEVS: Record<string, number[]> = { m1: [1, 2], m2: [3, 4], m3: [5, 6] };
const machineOf = (devid: number) => Object.keys(DEVS).find((m) => DEVS[m].includes(devid))!;
/** how long a device may be unreachable before its files are copied elsewhere (default 10 min) */
const REPAIR_AFTER_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `p`, marked handled: a test that fails before awaiting it must not crash the runner when it rejects later */
const settled = <T>(p: Promise<T>): Promise<T> => { p.catch(() => {}); return p; };
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));

function launch(ctx: Ctx, m: Machine): void {
  const p = ctx.net.spawn(m, [process.execPath, "--import", "tsx", path.join(REPO, "deploy", "launch.ts"), "--config", path.join(ctx.dir, "cfg", m.name, "node.json")], {
    cwd: REPO,
    env: { ...process.env, MOGILE_MONGO_URL: "", MOGILE_REPAIR_AFTER_MS: String(REPAIR_AFTER_MS), MOGILE_FERRETDB_DEBUG: "1" },
    logFile: path.join(ctx.dir, `${m.name}.log`),
  });
  ctx.launchers.set(m.name, p);
}

/** Run the in-machine client (test/helpers/hosts-client.ts) and return what it wrote. */
let runs = 0;
async function client<T = any>(ctx: Ctx, m: Machine, args: Record<string, unknown>, timeoutMs = 240_000): Promise<{ out: string; result: () => T }> {
  const out = path.join(ctx.dir, `client-${m.name}-${++runs}.out`);
  const argsFile = `${out}.args.json`;
  writeFileSync(argsFile, JSON.stringify({ servers: localFirst(ctx, m), nkey: ctx.app, domain: "hosts", out, ...args }));
  const p = ctx.net.spawn(m, [process.execPath, "--import", "tsx", path.join(REPO, "test", "helpers", "hosts-client.ts"), argsFile],
    { cwd: REPO, env: { ...process.env, MOGILE_NATS_LOCAL_FIRST: "1" }, logFile: path.join(ctx.dir, `client-${m.name}.log`) });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  await exited(p);
  clearTimeout(timer);
  if (p.exitCode !== 0) throw new Error(`client on ${m.name} (${String(args.mode)}) exited with ${p.exitCode ?? p.signalCode}: see ${path.join(ctx.dir, `client-${m.name}.log`)}\n${tail(path.join(ctx.dir, `client-${m.name}.log`))}`);
  return { out, result: () => JSON.parse(readFileSync(out, "utf8")) as T };
}
/** the NATS servers with the machine's own node first (the client uses it while it is up) */
const localFirst = (ctx: Ctx, m: Machine) => { const own = `nats://${m.address}:4222`; return [own, ...ctx.servers.split(",").filter((u) => u !== own)].join(","); };
const tail = (file: string, n = 15) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-n).join("\n") : "");

const rpc = async (ctx: Ctx, m: Machine, command: string, args: Record<string, unknown> = {}) =>
  (await client(ctx, m, { mode: "rpc", command, args, nkey: ctx.admin }, 60_000)).result();

/** Until `m`'s NATS node says its JetStream is current (nats-server /healthz): an operator's check before restarting the next machine. */
const healthy = (ctx: Ctx, m: Machine) => waitFor(`${m.name}'s NATS node healthy (JetStream current)`, 120_000, async () => {
  const { code, body } = (await client<{ code: number; body: string }>(ctx, m, { mode: "healthz", port: 8222 }, 15_000)).result();
  // what it says while it is not is the last thing a timeout reports
  if (code !== 200) throw new Error(`/healthz ${code}: ${body.trim()}`);
  return true;
});

/** Observed states of the devices, asked on `m`. */
async function observed(ctx: Ctx, m: Machine): Promise<Record<number, string>> {
  const { devices } = await rpc(ctx, m, "get_devices");
  return Object.fromEntries((devices as { devid: number; observed_state?: string }[]).map((d) => [d.devid, d.observed_state ?? "?"]));
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = "never true";
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    try { if (await check()) return; } catch (err) { last = err; }
    await sleep(1_000);
  }
  throw new Error(`${what} within ${timeoutMs} ms (last: ${(last as Error)?.message ?? last})`);
}

interface Line { op: "put" | "del" | "fail" | "done"; key?: string; sha?: string; /** started */ t0?: number; /** acknowledged */ t?: number; error?: string; retries?: number; stored?: number; failed?: number }
const lines = (file: string): Line[] => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);

/** Acknowledged files still stored (stored and not deleted), from clients' logs. */
function acked(files: string[]): Map<string, { sha: string; t0: number; t: number }> {
  const live = new Map<string, { sha: string; t0: number; t: number }>();
  for (const f of files) for (const l of lines(f)) {
    if (l.op === "put") live.set(l.key!, { sha: l.sha!, t0: l.t0!, t: l.t! });
    if (l.op === "del") live.delete(l.key!);
  }
  return live;
}
const failures = (files: string[]) => files.flatMap((f) => lines(f).filter((l) => l.op === "fail").map((l) => l.error));
const summary = (files: string[]) => files.map((f) => lines(f).find((l) => l.op === "done")).filter(Boolean);

/** Read every acked file back on `m`; returns the copies of each. Fails on a missing or wrong file. */
async function verify(ctx: Ctx, m: Machine, live: Map<string, { sha: string }>): Promise<Record<string, number[]>> {
  const files = [...live].map(([key, v]) => ({ key, sha: v.sha }));
  const r = (await client<{ missing: string[]; bad: string[]; devids: Record<string, number[]> }>(ctx, m, { mode: "verify", files })).result();
  assert.equal(r.missing, [], "every acknowledged file can be read");
  assert.equal(r.bad, [], "every acknowledged file reads back as stored");
  return r.devids;
}

/** Files whose copies on machines other than `except` are on fewer than 2 machines. */
const underReplicated = (devids: Record<string, number[]>, except: string[] = []) =>
  Object.entries(devids).filter(([, ds]) => new Set(ds.map(machineOf).filter((m) => !except.includes(m))).size < 2).map(([k]) => k);

/** A test of this suite; when it fails, each machine's last warnings and errors are printed (CI keeps no data dir). */
function test(name: string, fn: (ctx: Ctx) => Promise<void>): void {
  t(name, async (ctx) => {
    try {
      await fn(ctx);
    } catch (err) {
      // what went wrong matters more than these: nothing in them may hide it
      try {
        const notable = (m: Machine) => {
          const file = path.join(ctx.dir, `${m.name}.log`);
          return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => / (WARN|ERROR) |\[mogile\]/.test(l)).slice(-25).join("\n") : "";
        };
        // and the metadata server's sessions and logs, on the machine that runs it
        const metadata = (m: Machine) => { try { return metadataDiagnostics(path.join(ctx.dir, m.name), undefined, ["ip", "netns", "exec", m.ns]); } catch (e) { return `metadata diagnostics failed: ${(e as Error).message}`; } };
        // each machine's TCP connections to or from the metadata server's port, with their queues
        const sockets = (m: Machine) => { try { return execFileSync("ip", ["netns", "exec", m.ns, "ss", "-tnoH", "( sport = :27017 or dport = :27017 )"], { encoding: "utf8" }).trim().split("\n").slice(0, 60).join("\n"); } catch (e) { return `ss failed: ${(e as Error).message}`; } };
        // each NATS node's own warnings (routes, elections, catch-ups, health checks)
        const natsLog = (m: Machine) => {
          const dir = path.join(ctx.dir, m.name, "logs");
          const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith("nats")).map((f) => path.join(dir, f)) : [];
          return files.map((f) => `${path.basename(f)}:\n${readFileSync(f, "utf8").split("\n").filter((l) => /\[(WRN|ERR|FTL)\]/.test(l)).slice(-40).join("\n")}`).join("\n");
        };
        const meta = new Map(ctx.net.machines.map((m) => [m.name, metadata(m)]));
        process.stderr.write(`\n[hosts] "${name}" failed; each machine's last warnings:\n${ctx.net.machines.map((m) => `--- ${m.name}\n${notable(m)}\n${meta.get(m.name)}\nsockets (27017):\n${sockets(m)}\nNATS node:\n${natsLog(m)}`).join("\n")}\n`);
        // the gist last, where a log cut to its end still shows it
        const gist = (m: Machine) => {
          const warnings = notable(m).split("\n").filter((l) => / (WARN|ERROR) /.test(l));
          const nats = natsLog(m).split("\n").filter((l) => /\[(WRN|ERR|FTL)\]/.test(l));
          const ss = sockets(m);
          const conns = ss.startsWith("ss failed") ? ss : String(ss.split("\n").filter(Boolean).length);
          return [`${m.name}: ${warnings.length} actor warnings among its last 25 notable lines, last: ${warnings.at(-1)?.slice(0, 220) ?? "none"}`,
            `  NATS: last: ${nats.at(-1)?.slice(0, 200) ?? "none"}`, `  sockets to or from :27017: ${conns}`,
            ...(meta.get(m.name) ? summarizeMetadataDiagnostics(meta.get(m.name)!).split("\n").map((l) => `  ${l}`) : [])].join("\n");
        };
        process.stderr.write(`[hosts] "${name}" failed at ${new Date().toISOString()}; in short:\n${ctx.net.machines.map(gist).join("\n")}\n`);
      } catch (e) {
        process.stderr.write(`[hosts] diagnostics failed: ${(e as Error).stack}\n`);
      }
      throw err;
    }
  });
}

t.before(async (ctx) => {
  if (!enabled) return;
  ctx.net = new Net();
  ctx.dir = tempDir("hosts");
  chmodSync(ctx.dir, 0o755);
  ctx.launchers = new Map();
  const cleanup = () => { for (const m of ctx.net.machines) ctx.net.killAll(m); };
  process.once("exit", cleanup);
  try {
    ctx.net.create(3);
    const g = generate({
      machines: ctx.net.machines.map((m) => m.address), names: ctx.net.machines.map((m) => m.name), zones: ["rack-a", "rack-b", "rack-c"],
      dataDir: path.join(ctx.dir, "{name}"), storageRoot: path.join(ctx.dir, "{name}", "storage"), out: path.join(ctx.dir, "cfg"),
    });
    // the operator's step: the shared secrets go to every machine's data dir
    for (const m of ctx.net.machines) {
      mkdirSync(path.join(ctx.dir, m.name), { recursive: true });
      cpSync(g.secrets, path.join(ctx.dir, m.name, "secrets"), { recursive: true });
    }
    ctx.servers = ctx.net.machines.map((m) => `nats://${m.address}:4222`).join(",");
    ctx.admin = path.join(g.secrets, "nats", "admin.nk");
    ctx.app = path.join(g.secrets, "nats", "app.nk");
    for (const m of ctx.net.machines) launch(ctx, m);
    const [m1] = ctx.net.machines;
    await waitFor("every device writeable", 240_000, async () => Object.values(await observed(ctx, m1)).filter((s) => s === "writeable").length === 6);
    for (const m of ctx.net.machines) await healthy(ctx, m);
    await rpc(ctx, m1, "create_domain", { domain: "hosts" });
  } catch (err) {
    process.stderr.write(`\n[hosts] did not start: ${(err as Error).stack}\n${ctx.net.machines.map((m) => `--- ${m.name}\n${tail(path.join(ctx.dir, `${m.name}.log`), 30)}`).join("\n")}\n`);
    await ctx.net.destroy();
    throw err;
  }
});

t.after(async (ctx) => {
  if (!enabled) return;
  await Promise.all([...ctx.launchers.values()].map(async (p) => { p.kill("SIGTERM"); await Promise.race([exited(p), sleep(20_000)]); }));
  await ctx.net.destroy();
  if (!process.env.MOGILE_KEEP_TEST_DATA) rmSync(ctx.dir, { recursive: true, force: true });
  // the embedded metadata server of a data dir under a private parent lives in /var/lib/mogile
});

test("machines - a client on each machine stores, reads and deletes; copies land on different machines and racks", async (ctx) => {
  if (!enabled) return void console.log("  (skipped: needs root and ip netns)");
  const runs = await Promise.all(ctx.net.machines.map((m) => client(ctx, m, { mode: "load", prefix: `each/${m.name}`, ms: 8_000 })));
  const logs = runs.map((r) => r.out);
  assert.equal(failures(logs), [], "no operation failed");
  const live = acked(logs);
  assert.ok(live.size >= 30, `files stored from every machine (${live.size})`);
  for (const m of ctx.net.machines) assert.ok([...live.keys()].some((k) => k.startsWith(`each/${m.name}/`)), `stored from ${m.name}`);
  const devids = await verify(ctx, ctx.net.machines[1], live);
  assert.equal(underReplicated(devids), [], "every file has copies on two machines (each machine is its own rack)");
});

test("machines - a slow link (delay and loss, or a narrow one) slows a machine down and loses nothing", async (ctx) => {
  if (!enabled) return;
  const [m1, , m3] = ctx.net.machines;
  const how = ctx.net.slow(m3);
  console.log(`  slow link on m3: ${how}`);
  try {
    const runs = await Promise.all([m1, m3].map((m) => client(ctx, m, { mode: "load", prefix: `slow/${m.name}`, ms: 10_000 })));
    const logs = runs.map((r) => r.out);
    assert.equal(failures(logs), [], "no operation failed");
    console.log(`  slow link: ${JSON.stringify(summary(logs))}`);
    const devids = await verify(ctx, m1, acked(logs));
    assert.equal(underReplicated(devids), [], "every file has copies on two machines");
  } finally {
    ctx.net.slow(m3, false);
  }
});

test("machines - a machine cut off for 30 s: writes go on on the majority, its storage is marked unreachable then reachable, nothing is lost", async (ctx) => {
  if (!enabled) return;
  const [m1, m2, m3] = ctx.net.machines;
  const load = settled(Promise.all([m1, m2].map((m) => client(ctx, m, { mode: "load", prefix: `part/${m.name}`, ms: 50_000 }))));
  await sleep(5_000);
  const cut = Date.now();
  ctx.net.link(m3, false);
  let healed = 0;
  try {
    await waitFor("m3's devices unreachable as seen from m1", 20_000, async () => {
      const o = await observed(ctx, m1);
      return DEVS.m3.every((d) => o[d] === "unreachable");
    });
    const seen = Date.now();
    await sleep(Math.max(0, 30_000 - (Date.now() - cut)));
    ctx.net.link(m3, true);
    healed = Date.now();
    const logs = (await load).map((r) => r.out);
    assert.equal(failures(logs), [], "clients on the majority saw only retries");
    const live = acked(logs);
    // stores begun after m3 was seen cut off and acknowledged before it came back (a store begun
    // earlier may have written its copy on m3 before the cut and been acknowledged during it)
    const during = [...live].filter(([, v]) => v.t0 > seen && v.t < healed);
    assert.ok(during.length >= 3, `writes acknowledged during the partition (${during.length})`);
    await waitFor("m3's devices writeable again", 60_000, async () => {
      const o = await observed(ctx, m1);
      return DEVS.m3.every((d) => o[d] === "writeable");
    });
    const devids = await verify(ctx, m2, acked(logs));
    const onMinority = during.filter(([k]) => devids[k]?.some((d) => machineOf(d) === "m3")).map(([k]) => k);
    assert.equal(onMinority, [], "writes during the partition went to the majority side");
    // copies the lost-device repair made meanwhile may be surplus now: never fewer than the policy
    await waitFor("every file meets its policy", 90_000, async () => underReplicated(await verify(ctx, m1, live)).length === 0);
    await healthy(ctx, m3);
  } finally {
    if (!healed) ctx.net.link(m3, true);
  }
});

test("machines - a machine lost under load: every acknowledged file stays readable and is copied back to policy on the other two", async (ctx) => {
  if (!enabled) return;
  const [m1, m2, m3] = ctx.net.machines;
  // files with a copy on m3 before it goes
  const before = await Promise.all([m1, m3].map((m) => client(ctx, m, { mode: "load", prefix: `lost-before/${m.name}`, ms: 5_000 })));
  const load = settled(Promise.all([m1, m2].map((m) => client(ctx, m, { mode: "load", prefix: `lost/${m.name}`, ms: 35_000 }))));
  await sleep(5_000);
  const killed = ctx.net.killAll(m3);
  assert.ok(killed >= 5, `every process of m3 killed (${killed})`);
  const logs = [...before, ...(await load)].map((r) => r.out);
  assert.equal(failures(logs), [], "clients saw only retries");
  const live = acked(logs);
  const onM3 = Object.entries(await verify(ctx, m1, live)).filter(([, ds]) => ds.some((d) => machineOf(d) === "m3"));
  assert.ok(onM3.length > 0, "some files had a copy on the lost machine");
  await waitFor(`files with a copy on m3 copied again on m1 and m2 (${onM3.length})`, 120_000,
    async () => underReplicated(await verify(ctx, m2, live), ["m3"]).length === 0);
  // m3 comes back for the next test
  launch(ctx, m3);
  await waitFor("m3's devices writeable again", 120_000, async () => {
    const o = await observed(ctx, m1);
    return DEVS.m3.every((d) => o[d] === "writeable");
  });
  await healthy(ctx, m3);
});

test("machines - a rolling restart of every machine under load fails no acknowledged operation", async (ctx) => {
  if (!enabled) return;
  const [m1, m2, m3] = ctx.net.machines;
  let stop = false;
  const load = settled((async () => {
    const outs: string[] = [];
    // rounds of load from m2 and m3 while the machines restart one by one (bounded: 20 rounds)
    for (let i = 0; i < 20 && !stop; i++) outs.push(...(await Promise.all([m2, m3].map((m) => client(ctx, m, { mode: "load", prefix: `roll/${m.name}/${i}`, ms: 8_000 })))).map((r) => r.out));
    return outs;
  })());
  try {
    for (const m of [m3, m2, m1]) {
      const p = ctx.launchers.get(m.name)!;
      p.kill("SIGTERM");
      await Promise.race([exited(p), sleep(60_000)]);
      assert.ok(p.exitCode !== null || p.signalCode !== null, `${m.name} stopped within 60 s`);
      launch(ctx, m);
      await waitFor(`${m.name}'s devices writeable after its restart`, 120_000, async () => {
        const o = await observed(ctx, m === m1 ? m2 : m1);
        return DEVS[m.name].every((d) => o[d] === "writeable");
      });
      await healthy(ctx, m);
    }
  } finally {
    stop = true;
  }
  const logs = await load;
  assert.equal(failures(logs), [], "no operation failed during the rolling restart");
  const live = acked(logs);
  assert.ok(live.size > 20, `files stored during the restarts (${live.size})`);
  await waitFor("every file meets its policy after the restarts", 90_000, async () => underReplicated(await verify(ctx, m1, live)).length === 0);
});

t.run();
