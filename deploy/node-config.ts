// One machine of a multi-machine cluster: what it runs and how it reaches the rest, in one JSON file
// (`npm start -- --config node.json`). The single-machine launcher is the special case "every role
// here, on loopback": both become the same ClusterOptions and start through deploy/cluster.ts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ROLES, type ClusterOptions, type Role } from "./cluster.ts";

const port = z.number().int().min(1).max(65535);
const address = z.string().min(1).max(253).regex(/^[A-Za-z0-9.:-]+$/, "an IP address or host name");
const natsUrl = z.string().regex(/^(nats|tls):\/\/[^\s,]+$/, "nats://host:port");

export const NodeConfig = z.object({
  /** this machine's name (logs; its storage host's name unless `storage.host` says otherwise) */
  name: z.string().min(1).max(40).regex(/^[A-Za-z0-9._-]+$/),
  /** local state: NATS store, logs, the embedded metadata server; `secrets/` holds the cluster's shared secrets */
  dataDir: z.string().min(1),
  /** the address other machines and clients reach this machine at; its servers listen on it */
  address,
  nats: z.object({
    /** every NATS node's client URL: clients fail over between them */
    servers: z.array(natsUrl).min(1),
    /** run this machine's node of the NATS cluster */
    node: z.object({
      name: z.string().min(1).max(40).regex(/^[A-Za-z0-9._-]+$/),
      port: port.default(4222),
      clusterPort: port.default(6222),
      /** the other nodes' routes, nats-route://host:port */
      routes: z.array(z.string().regex(/^nats-route:\/\/[^\s,]+$/)).default([]),
      clusterName: z.string().regex(/^[A-Za-z0-9_-]+$/).default("mogile"),
      /** nats-server monitoring on 127.0.0.1 (`/healthz`: is this node's JetStream current); 0 turns it off */
      monitorPort: z.number().int().min(0).max(65535).default(8222),
    }).strict().optional(),
    /** JetStream replicas of every stream and bucket (default: 3, or fewer servers): 3 survives one node */
    replicas: z.number().int().min(1).max(5).optional(),
  }).strict(),
  metadata: z.union([
    /** a MongoDB replica set run by the operator (every machine gives the same URL) */
    z.object({ url: z.string().regex(/^mongodb(\+srv)?:\/\//) }).strict(),
    /** run the embedded metadata server (FerretDB on PostgreSQL) here; the other machines give its URL */
    z.object({ embedded: z.object({ port: port.default(27017) }).strict() }).strict(),
  ]),
  /** how many of each actor this machine runs (absent: none) */
  roles: z.partialRecord(z.enum(ROLES as [Role, ...Role[]]), z.number().int().min(0).max(64)).default({}),
  /** fixed ports of the front doors this machine runs */
  ports: z.object({ http: port.default(7080), legacy: port.default(7001), s3: port.default(7070) }).strict().default({ http: 7080, legacy: 7001, s3: 7070 }),
  /** each process's own /metrics port: the first free one from `port`, listening on `address` */
  metrics: z.object({
    /** default 127.0.0.1: Prometheus on another machine scrapes the gateway's /metrics instead */
    address: address.default("127.0.0.1"),
    port: port.default(7600),
  }).strict().default({ address: "127.0.0.1", port: 7600 }),
  /** the storage host this machine runs: devices are <root>/dev<N> (one mounted disk each) */
  storage: z.object({
    /** fixed host id: this machine's NATS user (storage-<hostid>) is made for it by the generator */
    hostid: z.number().int().min(1),
    host: z.string().min(1).max(40).optional(),
    port: port.default(7500),
    /** rack, room or site: a file's copies are spread across zones */
    zone: z.string().min(1).max(64).optional(),
    root: z.string().min(1),
    devices: z.array(z.number().int().min(1)).min(1),
  }).strict().optional(),
}).strict();
export type NodeConfig = z.infer<typeof NodeConfig>;

/** Read and check a node config; relative paths are taken from the file's directory. */
export function loadNodeConfig(file: string): NodeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const parsed = NodeConfig.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
  }
  const c = parsed.data;
  const base = path.dirname(path.resolve(file));
  return { ...c, dataDir: path.resolve(base, c.dataDir), ...(c.storage ? { storage: { ...c.storage, root: path.resolve(base, c.storage.root) } } : {}) };
}

/** The ClusterOptions a node config stands for (the same start path as `npm start`). */
export function nodeClusterOptions(c: NodeConfig): ClusterOptions {
  const counts = Object.fromEntries(ROLES.map((r) => [r, c.roles[r] ?? 0])) as Record<Role, number>;
  // one port each: a front door runs at most once per machine
  counts.gateway = Math.min(counts.gateway, 1);
  counts.legacy = Math.min(counts.legacy, 1);
  counts.s3 = Math.min(counts.s3, 1);
  const embedded = "embedded" in c.metadata ? c.metadata.embedded : null;
  return {
    dataDir: c.dataDir,
    address: c.address,
    natsUrl: c.nats.servers.join(","),
    natsNode: c.nats.node ? { ...c.nats.node, host: c.address } : undefined,
    jsReplicas: c.nats.replicas ?? Math.min(3, c.nats.servers.length),
    mongoUrl: embedded ? undefined : (c.metadata as { url: string }).url,
    metadataPort: embedded?.port,
    httpPort: c.ports.http,
    legacyPort: c.ports.legacy,
    s3Port: c.ports.s3,
    metricsBasePort: c.metrics.port,
    metricsAddress: c.metrics.address,
    counts,
    storageHosts: c.storage ? [{
      host: c.storage.host ?? c.name,
      hostid: c.storage.hostid,
      port: c.storage.port,
      zone: c.storage.zone,
      root: c.storage.root,
      devids: c.storage.devices,
    }] : [],
    logs: "inherit",
  };
}
