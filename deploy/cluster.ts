// A whole single-machine cluster: infrastructure, storage hosts and every actor as its own process.
// Used by the launcher (`npm start`), the tests and the benchmark.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { openStore } from "../actors/runtime/mongo.ts";
import { connectNats, ensureJetStream } from "../actors/runtime/nats.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { initDevice } from "../actors/storage/mount.ts";
import { connect } from "@nats-io/transport-node";
import { MogileClient } from "../protocol/client.ts";
import { findCredentials, natsAuthOptions } from "../protocol/credentials.ts";
import { REPO, assertPortFree, canListen, freePort, startNats, stopProcess, waitForPort, type Service } from "./services.ts";
import { startMetadata } from "./metadata.ts";
import { startNatsCluster, startNatsNode, waitForJetStream, type NatsNode, type NatsNodeSpec } from "./nats-cluster.ts";
import { ensureClusterKey } from "./secrets.ts";
import { ensureAdminKey } from "./admin-key.ts";
import { clusterKey } from "../actors/runtime/secrets.ts";
import { storageUser, userSeedFile, writeNatsAuth } from "./natsauth.ts";

export type Role = "query" | "replicator" | "deleter" | "monitor" | "reaper" | "gateway" | "legacy" | "fsck" | "s3";
export const ROLES: Role[] = ["query", "replicator", "deleter", "monitor", "reaper", "gateway", "legacy", "fsck", "s3"];

/** A storage host this machine runs (a node config names them; else host1..hostN on loopback). */
export interface StorageSpec {
  host: string;
  devids: number[];
  /** fixed host id (multi-machine: its NATS user exists beforehand); else the next free one */
  hostid?: number;
  port?: number;
  zone?: string;
  /** the document root holding dev<N> directories (default <data dir>/storage/<host>) */
  root?: string;
}

/**
 * How long a server actor may take to listen: a machine starting a dozen Node processes at once on
 * two cores (or three "machines" on one, as the hosts test does) can take a minute.
 */
const START_WAIT_MS = 120_000;

export interface ClusterOptions {
  dataDir: string;
  /** the address this machine's servers listen on and other machines reach them at (default 127.0.0.1) */
  address?: string;
  /** NATS servers run elsewhere (comma-separated client URLs): start none here, unless `natsNode` */
  natsUrl?: string;
  /** run this machine's node of a multi-machine NATS cluster */
  natsNode?: NatsNodeSpec;
  /** JetStream replicas for streams and buckets (default: the number of local nodes) */
  jsReplicas?: number;
  /** the metadata server's URL (a MongoDB replica set elsewhere); else one is run here */
  mongoUrl?: string;
  /** the embedded metadata server's fixed port (a node config's; else a free one) */
  metadataPort?: number;
  /** the storage hosts this machine runs (instead of `hosts` × `devicesPerHost` on loopback) */
  storageHosts?: StorageSpec[];
  /** fixed ports for `npm start`; tests leave them out and get free ones */
  natsPort?: number;
  /** NATS servers: 1 (default), or a loopback cluster of this many nodes with streams replicated on all */
  natsNodes?: number;
  httpPort?: number;
  /** the classic MogileFS tracker port (legacy actor) */
  legacyPort?: number;
  /** the S3 API port (s3 actor) */
  s3Port?: number;
  storageBasePort?: number;
  hosts?: number;
  devicesPerHost?: number;
  counts?: Partial<Record<Role, number>>;
  /** where actor output goes: "files" (dataDir/logs) or "inherit" (prefixed on our stdout) */
  logs?: "files" | "inherit";
  db?: string;
  env?: Record<string, string>;
  /** extra node flags for actor processes (e.g. --cpu-prof for profiling) */
  nodeArgs?: string[];
  /** each process's /metrics port is the first free one from here (`npm start`); else any free port */
  metricsBasePort?: number;
  /** the address /metrics ports listen on (default 127.0.0.1: other machines read them through the gateway) */
  metricsAddress?: string;
}

export interface StorageHost { host: string; port: number; url: string; devids: number[]; root: string; proc: ChildProcess; metricsUrl: string }
export interface ActorProc { role: string; instance: string; proc: ChildProcess; /** its own Prometheus endpoint */ metricsUrl: string }

export class Cluster {
  natsUrl = "";
  mongoUrl = "";
  httpUrl = "";
  /** the first admin key, `<id>:<secret>` (send it as `Authorization: Bearer …`); kept in adminKeyFile */
  adminKey = "";
  /** <data dir>/secrets/admin.key */
  adminKeyFile = "";
  /** true when this start created the admin key (the launcher prints it once) */
  adminKeyCreated = false;
  /** why the admin key in the file does not work, if it does not */
  adminKeyProblem: string | null = null;
  /** the classic MogileFS tracker protocol port (0 until the legacy actor is started) */
  legacyPort = 0;
  /** the S3 API's URL (empty until the s3 actor is started) */
  s3Url = "";
  db = "mogile";
  storage: StorageHost[] = [];
  actors: ActorProc[] = [];
  /** the nodes of a NATS cluster (natsNodes > 1), for tests that kill one */
  natsNodes: NatsNode[] = [];
  /** the address servers listen on and are reached at */
  readonly address: string;
  /** infrastructure servers, stopped last (tests restart the metadata server through these) */
  readonly services: Service[] = [];
  private counter = 0;
  /** generated at the first start, its path given to every actor */
  private readonly clusterKeyFile: string;
  /** the launcher's own tracker client (admin user): registers storage hosts before they start */
  private adminClient: Promise<MogileClient> | null = null;
  /** /metrics ports held by live processes of ours (from metricsBasePort) */
  private metricsPorts = new Set<number>();

  constructor(readonly opts: ClusterOptions) {
    this.clusterKeyFile = ensureClusterKey(opts.dataDir);
    this.address = opts.address ?? "127.0.0.1";
  }

  /** The seed file of one of this cluster's NATS users (operator, admin, app, ops, a role, storage-<hostid>). */
  credsFile(user: string): string { return userSeedFile(this.opts.dataDir, user); }

  /** A tracker client connected as `user` (default operator: may also manage streams and buckets). */
  connectClient(user = "operator", name = `mogile-${user}`): Promise<MogileClient> {
    return MogileClient.connect({ servers: this.natsUrl, nkeyFile: this.credsFile(user), name, caFile: this.fullEnv.MOGILE_TLS_CA });
  }

  /** our environment with the cluster's (what every actor gets) */
  private get fullEnv(): NodeJS.ProcessEnv { return { ...process.env, ...this.env }; }

  /** https when the operator supplied a certificate (MOGILE_TLS_CERT): the gateway and storage serve TLS */
  get scheme(): "http" | "https" { return this.fullEnv.MOGILE_TLS_CERT ? "https" : "http"; }

  get env(): Record<string, string> {
    // a machine of a multi-machine cluster: its own NATS node first, and used first
    const local = this.opts.natsNode && this.natsNodes[0] ? this.natsNodes[0].url : null;
    const natsUrl = local ? [local, ...this.natsUrl.split(",").filter((u) => u !== local)].join(",") : this.natsUrl;
    return {
      MOGILE_NATS_URL: natsUrl,
      ...(local ? { MOGILE_NATS_LOCAL_FIRST: "1" } : {}),
      MOGILE_MONGO_URL: this.mongoUrl,
      MOGILE_DB: this.db,
      MOGILE_CLUSTER_KEY_FILE: this.clusterKeyFile,
      ...(this.opts.jsReplicas ? { MOGILE_JS_REPLICAS: String(this.opts.jsReplicas) } : this.natsNodes.length > 1 ? { MOGILE_JS_REPLICAS: String(this.natsNodes.length) } : {}),
      ...this.opts.env,
    };
  }

  async start(): Promise<this> {
    const o = this.opts;
    const logDir = path.join(o.dataDir, "logs");
    mkdirSync(logDir, { recursive: true });
    this.db = o.db ?? "mogile";
    if (o.natsNode) {
      // this machine's node of a multi-machine cluster; clients use every node's URL
      const node = await startNatsNode({ dataDir: o.dataDir, logDir, node: o.natsNode, env: this.fullEnv });
      this.natsNodes = [node];
      this.services.push(node);
      this.natsUrl = o.natsUrl ?? node.url;
    } else if (o.natsUrl) {
      this.natsUrl = o.natsUrl;
    } else if ((o.natsNodes ?? 1) > 1) {
      const nats = await startNatsCluster({ dataDir: o.dataDir, logDir, size: o.natsNodes, env: this.fullEnv });
      this.natsNodes = nats.nodes;
      this.services.push(...nats.nodes);
      this.natsUrl = nats.url;
    } else {
      const natsPort = o.natsPort ?? (await freePort());
      const nats = await startNats({ dataDir: o.dataDir, port: natsPort, logDir, env: this.fullEnv });
      this.services.push(nats);
      this.natsUrl = `nats://127.0.0.1:${natsPort}`;
    }
    const meta = await startMetadata({ dataDir: o.dataDir, logDir, port: o.metadataPort, listen: this.address, url: o.mongoUrl });
    this.services.push(...meta.services);
    this.mongoUrl = meta.url;

    // create streams, buckets, collections and indexes once, before any actor races for them
    // (idempotent: every machine of a multi-machine cluster does it, whichever starts first wins)
    const log = createLogger({ role: "launcher" }, "warn");
    // a NATS cluster answers JetStream calls once a quorum of nodes has elected a meta leader
    await waitForJetStream(this.natsUrl, o.natsNode ? 300_000 : 60_000, this.credsFile("operator"), this.fullEnv);
    const nc = await connectNats(this.natsUrl, "mogile-bootstrap", log, { nkeyFile: this.credsFile("operator") }, this.fullEnv);
    // streams take their replica count from the environment; the actors get ours through this.env
    const replicas = this.env.MOGILE_JS_REPLICAS;
    const before = process.env.MOGILE_JS_REPLICAS;
    if (replicas !== undefined) process.env.MOGILE_JS_REPLICAS = replicas;
    try {
      await retry("JetStream streams and buckets", 120_000, () => ensureJetStream(nc));
    } finally {
      if (before === undefined) delete process.env.MOGILE_JS_REPLICAS; else process.env.MOGILE_JS_REPLICAS = before;
    }
    await nc.close();
    const store = await retry(`the metadata server at ${this.mongoUrl}`, 300_000, () => openStore(this.mongoUrl, this.db, log));
    try {
      // the first admin key, made once the metadata store is there (before any gateway serves)
      const admin = await ensureAdminKey(store, o.dataDir, clusterKey({ MOGILE_CLUSTER_KEY_FILE: ensureClusterKey(o.dataDir) }));
      this.adminKey = admin.credential;
      this.adminKeyFile = admin.file;
      this.adminKeyCreated = admin.created;
      this.adminKeyProblem = admin.problem ?? null;
    } finally {
      await store.close();
    }
    await meta.afterBootstrap(this.db);

    const counts = { query: 1, replicator: 1, deleter: 1, monitor: 1, reaper: 1, gateway: 1, legacy: 1, fsck: 1, s3: 1, ...o.counts };
    const started: Promise<unknown>[] = [];
    for (const role of ROLES) for (let i = 0; i < counts[role]; i++) started.push(this.spawnActor(role));
    const per = o.devicesPerHost ?? 2;
    const specs: StorageSpec[] = o.storageHosts ?? Array.from({ length: o.hosts ?? 3 }, (_, i) => ({
      host: `host${i + 1}`,
      devids: Array.from({ length: per }, (_, d) => i * per + d + 1),
      port: o.storageBasePort ? o.storageBasePort + i : undefined,
    }));
    let failed: PromiseSettledResult<unknown> | undefined;
    try {
      for (const h of specs) await this.addDevices(h.host, h.devids, h.root);
      // storage agents start once registered (their NATS user is bound to their host id)
      for (const h of specs) started.push(this.startStorage(h.host, h.devids, h.port, h));
    } finally {
      // every start settles before a failure is reported: the caller's stop() then finds every process
      failed = (await Promise.allSettled(started)).find((r) => r.status === "rejected");
    }
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return this;
  }

  storageRoot(host: string): string { return path.join(this.opts.dataDir, "storage", host); }

  /**
   * Add devices on disk: their directories and mount markers. The launcher owns its data dir, so
   * it also marks directories an older version made without a marker; a storage agent never
   * creates either (a missing one means the device is not mounted).
   */
  async addDevices(host: string, devids: number[], root = this.storageRoot(host)): Promise<void> {
    for (const devid of devids) await initDevice(root, devid, { create: true, host });
  }

  /** Start (or restart) a storage agent; its devices must have been added (`addDevices`). */
  async startStorage(host: string, devids: number[], port?: number, spec: Partial<StorageSpec> = {}): Promise<StorageHost> {
    const p = port ?? (await freePort(this.address));
    if (port) await assertPortFree(port, `storage ${host}`, this.address);
    const root = spec.root ?? this.storageRoot(host);
    const hostid = await this.registerHost(host, p, devids, spec);
    const metrics = await this.metricsPort();
    const proc = this.spawn("storage", host, {
      ...metrics.env,
      ...this.natsUser(storageUser(hostid)),
      MOGILE_STORAGE_HOSTID: String(hostid),
      MOGILE_STORAGE_HOST: host,
      MOGILE_STORAGE_IP: this.address,
      MOGILE_STORAGE_PORT: String(p),
      MOGILE_STORAGE_ROOT: root,
      MOGILE_STORAGE_DEVICES: devids.join(","),
      ...(spec.zone ? { MOGILE_STORAGE_ZONE: spec.zone } : {}),
    });
    this.releaseOnExit(proc, metrics.port);
    // listed before it is ready: a start that fails elsewhere meanwhile must still stop it
    const s: StorageHost = { host, port: p, url: `${this.scheme}://${this.address}:${p}`, devids, root, proc, metricsUrl: metrics.url };
    this.storage = this.storage.filter((x) => x.host !== host).concat(s);
    await waitForPort(p, START_WAIT_MS, `storage ${host}`, proc, this.address);
    return s;
  }

  private natsUser(user: string): Record<string, string> {
    return { MOGILE_NATS_USER: user, MOGILE_NATS_NKEY: this.credsFile(user) };
  }

  /**
   * Register a storage host and its devices (as the admin user) before its agent starts, and give
   * the agent a NATS user bound to the host id: it may publish only its own heartbeats and answer
   * only its own requests. A new user is added to every NATS server's accounts by a config reload.
   */
  private async registerHost(host: string, port: number, devids: number[], spec: Partial<StorageSpec> = {}): Promise<number> {
    // one connection shared by hosts registering at once (the promise, so none opens a second)
    const admin = await (this.adminClient ??= this.connectClient("admin", "mogile-launcher"));
    const deadline = Date.now() + 60_000;
    let hostid = 0;
    for (let attempt = 1; !hostid; attempt++) {
      try {
        hostid = (await admin.rpc("register_storage", { host, ip: this.address, port, devids, ...(spec.hostid ? { hostid: spec.hostid } : {}), ...(spec.zone ? { zone: spec.zone } : {}) }, 5_000)).hostid;
      } catch (err) {
        // a refusal (another host has that id or name) will not change by waiting
        if ((err as { code?: string }).code === "host_exists" || (err as { code?: string }).code === "existing_devid") throw err;
        // no query actor answers yet
        if (Date.now() > deadline) throw new Error(`could not register storage ${host}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(500, 50 * attempt)));
      }
    }
    if (writeNatsAuth(this.opts.dataDir, [hostid])) await this.reloadNats(storageUser(hostid));
    return hostid;
  }

  /**
   * Reload every NATS server's accounts and wait until `user` may connect. The signal is sent again
   * on every try: a reload already running when it arrives may have read the file before our write.
   */
  private async reloadNats(user: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    const env = this.fullEnv;
    for (let attempt = 1; ; attempt++) {
      for (const s of this.services) s.reload?.();
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * attempt)));
      try {
        const creds = findCredentials({ nkeyFile: this.credsFile(user) }, user, env);
        const nc = await connect({ servers: this.natsUrl.split(","), name: "mogile-reload-check", timeout: 2_000, maxReconnectAttempts: 0, ...natsAuthOptions(creds, env) });
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`NATS did not accept the new user ${user}: ${(err as Error).message}`);
      }
    }
  }

  async spawnActor(role: Role, env: Record<string, string> = {}): Promise<ActorProc> {
    const instance = `${role}-${++this.counter}`;
    const extra = { ...this.natsUser(role), ...env };
    if (role === "gateway") {
      const port = this.opts.httpPort ?? (await freePort(this.address));
      if (this.opts.httpPort) await assertPortFree(port, "gateway", this.address);
      extra.MOGILE_HTTP_PORT = String(port);
      if (this.opts.address) extra.MOGILE_HTTP_HOST = this.address;
      this.httpUrl = `${this.scheme}://${this.address}:${port}`;
    }
    if (role === "legacy") {
      const port = this.opts.legacyPort ?? (await freePort(this.address));
      if (this.opts.legacyPort) await assertPortFree(port, "legacy", this.address);
      extra.MOGILE_LEGACY_PORT = String(port);
      if (this.opts.address) extra.MOGILE_LEGACY_BIND = this.address;
      this.legacyPort = port;
    }
    if (role === "s3") {
      const port = this.opts.s3Port ?? (await freePort(this.address));
      if (this.opts.s3Port) await assertPortFree(port, "s3", this.address);
      extra.MOGILE_S3_PORT = String(port);
      if (this.opts.address) extra.MOGILE_S3_HOST = this.address;
      this.s3Url = `${this.scheme}://${this.address}:${port}`;
    }
    const metrics = await this.metricsPort();
    const proc = this.spawn(role, instance, { ...metrics.env, ...extra });
    this.releaseOnExit(proc, metrics.port);
    // listed before it is ready: a start that fails elsewhere meanwhile must still stop it
    const a = { role, instance, proc, metricsUrl: metrics.url };
    this.actors.push(a);
    if (role === "s3") await waitForPort(Number(extra.MOGILE_S3_PORT), START_WAIT_MS, "s3", proc, this.address);
    if (role === "gateway") await waitForPort(Number(extra.MOGILE_HTTP_PORT), START_WAIT_MS, "gateway", proc, this.address);
    if (role === "legacy") await waitForPort(Number(extra.MOGILE_LEGACY_PORT), START_WAIT_MS, "legacy", proc, this.address);
    return a;
  }

  /**
   * A /metrics port for the next process: the first free one from metricsBasePort (so `npm start`
   * keeps stable ports across restarts), else any free port.
   */
  private async metricsPort(): Promise<{ port: number; url: string; env: Record<string, string> }> {
    const host = this.opts.metricsAddress ?? "127.0.0.1";
    let port = 0;
    const base = this.opts.metricsBasePort;
    for (let p = base ?? 0; base && !port && p < base + 1_000 && p <= 65535; p++) {
      if (this.metricsPorts.has(p)) continue;
      // held before the check: actors start concurrently and must not pick the same port
      this.metricsPorts.add(p);
      if (await canListen(p, host)) port = p;
      else this.metricsPorts.delete(p);
    }
    if (base && !port) throw new Error(`no free /metrics port in ${base}..${base + 999}`);
    if (!port) this.metricsPorts.add((port = await freePort(host)));
    const h = host.includes(":") ? `[${host}]` : host;
    return { port, url: `${this.scheme}://${h}:${port}/metrics`, env: { MOGILE_METRICS_PORT: String(port), MOGILE_METRICS_HOST: host } };
  }

  private releaseOnExit(proc: ChildProcess, metricsPort: number): void {
    proc.once("exit", () => this.metricsPorts.delete(metricsPort));
  }

  private spawn(role: string, instance: string, env: Record<string, string>): ChildProcess {
    const logDir = path.join(this.opts.dataDir, "logs");
    const inherit = this.opts.logs === "inherit";
    const fd = inherit ? "pipe" : openSync(path.join(logDir, `${instance}.log`), "a");
    const proc = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), "--import", "tsx", path.join(REPO, "bin", "actor.ts"), role], {
      cwd: REPO,
      env: { ...process.env, ...this.env, MOGILE_INSTANCE: instance, ...env },
      stdio: ["ignore", fd, fd],
    });
    if (inherit) {
      const prefix = `[${instance}] `;
      for (const s of [proc.stdout!, proc.stderr!]) {
        let buf = "";
        s.on("data", (c: Buffer) => {
          buf += c.toString();
          const lines = buf.split("\n");
          buf = lines.pop()!;
          for (const l of lines) process.stdout.write(prefix + l + "\n");
        });
      }
    }
    return proc;
  }

  /** Wait until every storage host is registered at its current port and every device is writeable. */
  async ready(client: MogileClient, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const want = this.storage.reduce((n, s) => n + s.devids.length, 0);
    let why = "no answer";
    while (Date.now() < deadline) {
      try {
        const hosts = (await client.rpc("get_hosts", {}, 2_000)).hosts;
        const devices = (await client.rpc("get_devices", {}, 2_000)).devices;
        const missing = this.storage.filter((s) => !hosts.some((h) => h.hostname === s.host && h.http_port === s.port));
        const writeable = devices.filter((d) => d.observed_state === "writeable").length;
        if (!missing.length && writeable >= want) return;
        why = missing.length ? `hosts not registered: ${missing.map((m) => m.host).join(", ")}` : `${writeable} of ${want} devices writeable`;
      } catch (err) {
        why = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cluster not ready after ${timeoutMs} ms: ${why}`);
  }

  /** Stop actors first (gateway and query last to finish in-flight requests), then infrastructure. */
  async stop(): Promise<void> {
    await this.adminClient?.then((c) => c.close()).catch(() => {});
    this.adminClient = null;
    await Promise.all(this.actors.map((a) => stopProcess(a.proc)));
    await Promise.all(this.storage.map((s) => stopProcess(s.proc)));
    for (const s of this.services) await s.stop().catch(() => {});
  }
}

/** Call `fn` until it succeeds, with back-off, for up to `timeoutMs` (the other machines may still be starting). */
async function retry<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      if (attempt === 1 || attempt % 10 === 0) process.stderr.write(`[mogile] waiting for ${what}: ${(err as Error).message}\n`);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
    }
  }
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const c = new Cluster(opts);
  try {
    return await c.start();
  } catch (err) {
    await c.stop().catch(() => {});
    throw err;
  }
}
