// Process plumbing for the servers a cluster starts (ports, logs, stop), and the single nats-server;
// the metadata server is in metadata.ts, a NATS cluster in nats-cluster.ts.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, openSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { secretsDir } from "./secrets.ts";
import { writeNatsAuth } from "./natsauth.ts";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const TOOLS = path.join(REPO, ".tools", "bin");

export interface Service {
  name: string; proc: ChildProcess | null; stop(): Promise<void>;
  /** environment the process was started with beyond ours (to start it again the same way) */
  env?: Record<string, string>;
  /** re-read the configuration (nats-server: the accounts file, after a user was added) */
  reload?(): void;
}

/**
 * A port nothing listens on, for a server about to start. Picked below the kernel's ephemeral range
 * (`ip_local_port_range`), so the many outgoing connections of a busy machine cannot take it between
 * this check and the server's listen (a port 0 answer is inside that range: a test cluster once lost
 * a storage agent to EADDRINUSE that way), and below 30000. A port handed out stays reserved in
 * this process for two minutes. Falls back to the kernel's choice when the ephemeral range leaves
 * too little room below it.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const now = Date.now();
  for (const [p, until] of handedOut) if (until < now) handedOut.delete(p);
  // below 30000 too: 30000-32767 are Kubernetes' NodePorts on a machine that is also a node
  const lo = 10_000, hi = Math.min(29_999, ephemeralLow() - 1);
  for (let i = 0; i < 50 && hi - lo >= 1_000; i++) {
    const p = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (handedOut.has(p)) continue;
    // reserved before the check: concurrent calls must not both get it
    handedOut.set(p, now + 120_000);
    if (await canListen(p, host)) return p;
    handedOut.delete(p);
  }
  return kernelPort(host);
}
const handedOut = new Map<number, number>();

/** the first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read) */
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(lo) && lo > 0 ? lo : 32_768;
  } catch {
    return 32_768;
  }
}

/** whether a server could listen on `port` at `host` now (tried, then closed) */
export function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Refuse to start a server on a port something else already holds (a leftover from an earlier run). */
export async function assertPortFree(port: number, what: string, host = "127.0.0.1"): Promise<void> {
  if (!(await canListen(port, host))) throw new Error(`${what}: port ${port} is already in use (a leftover process?)`);
}

export async function waitForPort(port: number, timeoutMs: number, what: string, proc?: ChildProcess, host = "127.0.0.1"): Promise<void> {
  await waitForListener(port, timeoutMs, what, proc, host);
  if (proc) {
    // someone else may hold the port (a free port taken between our probe and the bind): our
    // process then exits with a bind error while the port answers — make sure it is still alive
    await new Promise((r) => setTimeout(r, 150));
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited with code ${proc.exitCode} (is port ${port} taken?)`);
  }
}

async function waitForListener(port: number, timeoutMs: number, what: string, proc: ChildProcess | undefined, host: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host === "0.0.0.0" ? "127.0.0.1" : host);
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
}

/** Stop a child: SIGTERM, then SIGKILL after `graceMs`. */
export function stopProcess(proc: ChildProcess, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const t = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    proc.once("exit", () => { clearTimeout(t); resolve(); });
    proc.kill("SIGTERM");
  });
}

export function logFile(dir: string, name: string): number {
  mkdirSync(dir, { recursive: true });
  return openSync(path.join(dir, `${name}.log`), "a");
}

/**
 * The single nats-server's configuration: the repo's nats.conf plus the generated accounts (users
 * and permissions, deploy/natsauth.ts), in the secrets dir so the include is a sibling file.
 */
function natsServerConf(dataDir: string, env: NodeJS.ProcessEnv): string {
  writeNatsAuth(dataDir);
  const conf = path.join(secretsDir(dataDir), "nats-server.conf");
  const base = readFileSync(path.join(REPO, "nats.conf"), "utf8");
  writeFileSync(conf, `${base}\n${natsTlsConf(env)}# users and permissions (written by deploy/natsauth.ts)\ninclude "nats-accounts.conf"\n`, { mode: 0o600 });
  return conf;
}

/** TLS settings for CERT/KEY operators supply (MOGILE_TLS_CERT, MOGILE_TLS_KEY): clients must use TLS. */
export function natsTlsConf(env: NodeJS.ProcessEnv): string {
  const cert = env.MOGILE_TLS_CERT, key = env.MOGILE_TLS_KEY;
  if (!cert && !key) return "";
  if (!cert || !key) throw new Error("MOGILE_TLS_CERT and MOGILE_TLS_KEY go together");
  return `tls { cert_file: ${JSON.stringify(path.resolve(cert))}, key_file: ${JSON.stringify(path.resolve(key))}, timeout: 5 }\n`;
}

export async function startNats(o: { dataDir: string; port: number; logDir: string; env?: NodeJS.ProcessEnv }): Promise<Service> {
  const store = path.join(o.dataDir, "nats");
  mkdirSync(store, { recursive: true });
  const fd = logFile(o.logDir, "nats-server");
  await assertPortFree(o.port, "nats-server");
  // own process group: a terminal's Ctrl-C reaches the launcher, which stops servers last
  const proc = spawn(path.join(TOOLS, "nats-server"), ["-c", natsServerConf(o.dataDir, o.env ?? process.env), "-a", "127.0.0.1", "-p", String(o.port), "-sd", store], { stdio: ["ignore", fd, fd], detached: true });
  await waitForPort(o.port, 15_000, "nats-server", proc);
  return { name: "nats-server", proc, stop: () => stopProcess(proc), reload: () => { proc.kill("SIGHUP"); } };
}
