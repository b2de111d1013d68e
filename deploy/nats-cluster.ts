// A NATS cluster on loopback: N nats-server nodes with JetStream, routed to each other, each with
// its own store dir. A node can be killed and started again on the same ports and store, as the
// fault tests do; streams created with num_replicas = N survive the loss of a minority.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { accountsFile, userSeedFile, writeNatsAuth } from "./natsauth.ts";
import { findCredentials, natsAuthOptions } from "../protocol/credentials.ts";
import { REPO, natsTlsConf, freePort, assertPortFree, waitForPort, stopProcess, type Service } from "./services.ts";

const NATS_BIN = path.join(REPO, ".tools", "bin", "nats-server");

export class NatsNode implements Service {
  proc: ChildProcess | null = null;
  constructor(
    readonly name: string,
    readonly port: number,
    readonly clusterPort: number,
    private readonly confPath: string,
    private readonly logDir: string,
    /** the address it listens on (a machine's own in a multi-machine cluster) */
    readonly host = "127.0.0.1",
  ) {}

  get url(): string { return `nats://${this.host}:${this.port}`; }

  async start(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return;
    await assertPortFree(this.port, this.name, this.host);
    const fd = openSync(path.join(this.logDir, `${this.name}.log`), "a");
    // own process group, like the single server: Ctrl-C reaches the launcher, which stops servers last
    this.proc = spawn(NATS_BIN, ["-c", this.confPath], { stdio: ["ignore", fd, fd], detached: true });
    await waitForPort(this.port, 15_000, this.name, this.proc, this.host);
  }

  /** kill -9 (or another signal) and wait for the exit */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    if (this.proc) await stopProcess(this.proc);
  }

  reload(): void {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGHUP");
  }
}

export interface NatsCluster { nodes: NatsNode[]; /** every node's client URL, comma-separated */ url: string }

/**
 * Start `size` routed nodes and wait until JetStream has a meta leader (streams can be created).
 * A free port can be taken by someone else before a node binds it (tests start many servers on
 * one machine): then start again on fresh ports, from empty store directories.
 */
export async function startNatsCluster(o: { dataDir: string; logDir: string; size?: number; clusterName?: string; env?: NodeJS.ProcessEnv }): Promise<NatsCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(o);
    } catch (err) {
      if (attempt >= 3 || !/in use|exited with code/.test((err as Error).message)) throw err;
      rmSync(path.join(o.dataDir, "nats-cluster"), { recursive: true, force: true });
    }
  }
}

async function startNatsClusterOnce(o: { dataDir: string; logDir: string; size?: number; clusterName?: string; env?: NodeJS.ProcessEnv }): Promise<NatsCluster> {
  const size = o.size ?? 3;
  writeNatsAuth(o.dataDir);
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const nodes = ports.map((p, i) => {
    const name = `nats-${i + 1}`;
    const store = path.join(o.dataDir, "nats-cluster", name);
    mkdirSync(store, { recursive: true });
    const routes = ports.filter((_, j) => j !== i).map((q) => `nats-route://127.0.0.1:${q.route}`);
    const confPath = path.join(o.dataDir, "nats-cluster", `${name}.conf`);
    // the same node config as a multi-machine cluster's, on loopback
    const spec = { name, host: "127.0.0.1", port: p.client, clusterPort: p.route, routes, clusterName: o.clusterName };
    writeFileSync(confPath, natsNodeConf(spec, store, path.relative(path.dirname(confPath), accountsFile(o.dataDir)), o.env ?? process.env));
    return new NatsNode(name, p.client, p.route, confPath, o.logDir);
  });
  try {
    await Promise.all(nodes.map((n) => n.start()));
    await waitForJetStream(nodes.map((n) => n.url).join(","), 60_000, userSeedFile(o.dataDir, "operator"), o.env ?? process.env);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return { nodes, url: nodes.map((n) => n.url).join(",") };
}

/** Until the cluster answers JetStream API calls (a meta leader is elected). */
export async function waitForJetStream(servers: string, timeoutMs: number, nkeyFile: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const creds = natsAuthOptions(findCredentials({ nkeyFile }, "operator"), env);
  const nc = await connect({ ...creds, servers: servers.split(","), name: "mogile-nats-cluster-wait", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  try {
    while (Date.now() < deadline) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`JetStream not available on ${servers} within ${timeoutMs} ms: ${(last as Error)?.message}`);
  } finally {
    await nc.close();
  }
}

/** One node of a NATS cluster spread over machines: what a node config or the generator describes. */
export interface NatsNodeSpec {
  /** server_name, unique in the cluster */
  name: string;
  /** the address this machine's node listens on and other machines reach it at */
  host: string;
  port: number;
  clusterPort: number;
  /** the other nodes' route URLs, nats-route://host:port */
  routes: string[];
  clusterName?: string;
  /**
   * nats-server's monitoring port, on 127.0.0.1 only (what it shows is not authenticated): an
   * operator on the machine asks `/healthz` whether this node's JetStream is current again after
   * a restart before restarting the next machine
   */
  monitorPort?: number;
}

/**
 * The nats-server configuration of one node of a multi-machine cluster: client and route ports on
 * the machine's address, JetStream in `storeDir`, and the cluster's accounts (every node includes
 * the same generated file; `accountsInclude` is relative to the config file or absolute).
 */
export function natsNodeConf(n: NatsNodeSpec, storeDir: string, accountsInclude: string, env: NodeJS.ProcessEnv = process.env): string {
  return [
    "# one node of a mogile NATS cluster (deploy/nats-cluster.ts natsNodeConf)",
    `server_name: ${n.name}`,
    `listen: ${n.host}:${n.port}`,
    ...(n.monitorPort ? [`http: "127.0.0.1:${n.monitorPort}"`] : []),
    "max_payload: 1MB",
    // a silent peer (a partition drops packets, nothing closes the connection) is noticed within
    // seconds; routes to it close, so no request is routed to actors behind it
    "ping_interval: \"2s\"",
    "ping_max: 3",
    "write_deadline: \"5s\"",
    // a write is acknowledged by JetStream only once a majority of nodes has it
    `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_memory_store: 256MB, max_file_store: 8GB }`,
    `cluster { name: ${n.clusterName ?? "mogile"}, listen: ${n.host}:${n.clusterPort}, routes: [${n.routes.join(", ")}] }`,
    natsTlsConf(env),
    "# users and permissions, the same file on every node (deploy/natsauth.ts)",
    `include ${JSON.stringify(accountsInclude)}`,
    "",
  ].join("\n");
}

/** Start this machine's node of a multi-machine NATS cluster (its config written into dataDir). */
export async function startNatsNode(o: { dataDir: string; logDir: string; node: NatsNodeSpec; env?: NodeJS.ProcessEnv }): Promise<NatsNode> {
  writeNatsAuth(o.dataDir);
  const dir = path.join(o.dataDir, "nats-node");
  const store = path.join(dir, "store");
  mkdirSync(store, { recursive: true });
  const confPath = path.join(dir, `${o.node.name}.conf`);
  writeFileSync(confPath, natsNodeConf(o.node, store, path.relative(dir, accountsFile(o.dataDir)), o.env), { mode: 0o600 });
  const node = new NatsNode(o.node.name, o.node.port, o.node.clusterPort, confPath, o.logDir, o.node.host);
  await node.start();
  return node;
}
