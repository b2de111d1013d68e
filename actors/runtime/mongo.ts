// The metadata store: MongoDB collections, their indexes, and the queries actors share.
// Only single-document atomic writes (FerretDB has no transactions), made atomic on the embedded
// FerretDB too by the guard in ./atomic.ts: see DESIGN.md.
import { MongoClient, type Db, type Document } from "mongodb";
import { GuardedCollection, REV } from "./atomic.ts";
import type { DeviceStateName, HostStateName, PlacementRecord } from "../../protocol/schemas.ts";
import type { Logger } from "./log.ts";

export interface DomainDoc {
  _id: string; createdAt: Date;
  /** reads need signed URLs: new files are stored protected (absent = false) */
  signed_get?: boolean;
  /** the HTTP gateway serves reads without an API key (absent = false) */
  anonymous_read?: boolean;
  /**
   * set once signed_get was ever on, and never cleared: files stored protected stay so, so
   * get_paths keeps signing this domain's URLs after signed_get is turned off
   */
  signed_urls?: boolean;
}
export interface ClassDoc {
  _id: string; domain: string; class: string; mindevcount: number; replpolicy: string; hashtype: string;
  /** copies create_close waits for (absent = 1, MogileFS behaviour) */
  durable_copies?: number;
  /**
   * copies beyond the first are made by the replicator after the ack (MogileFS behaviour); absent
   * = every copy the class wants is written in the PUT itself (chain replication)
   */
  async_copies?: boolean;
}
/** _id is fileId(domain, key): get_paths is one primary-key lookup */
export interface FileDoc {
  _id: string; fid: number; domain: string; key: string; class: string; length: number; devids: number[]; createdAt: Date;
  /** `ALG:hex`, stored when it matches the class hashtype */
  checksum?: string | null;
  /**
   * devices whose copy of this fid a deleter is removing right now (an unrecorded or forgotten
   * copy): no copy on them may be recorded until the deleter is done (see actors/deleter)
   */
  deleting?: number[];
  /** the delete job holding each fence: `<devid>:<job sequence>:<ms>` */
  fencedBy?: string[];
  /** what the writer asked to keep with the bytes (the S3 API: content-type, x-amz-meta-*, etag …) */
  meta?: Record<string, string>;
  /**
   * why each copy is where it is: the last placement decision per device (`d<devid>`), written in
   * the same update that adds or forgets the copy (actors/runtime/domain/placements.ts); absent
   * on files stored before it was recorded
   */
  placements?: Record<string, PlacementRecord>;
}
export interface HostDoc {
  _id: number; hostname: string; ip: string; port: number; status: HostStateName;
  /** port for reads (MogileFS http_get_port), when different */
  getport?: number | null;
  /** alternate address for clients in the `alt` zone */
  altip?: string | null;
  altmask?: string | null;
  /** placement zone (rack, network, site) for MultipleNetworks; absent = no zone */
  zone?: string | null;
}
export interface SettingDoc { _id: string; value: string }
export interface DeviceDoc { _id: number; hostid: number; status: DeviceStateName; weight: number }
export interface CounterDoc { _id: string; next: number }
export interface DeadLetterDoc { _id: string; kind: string; fid: number; error: string; at: Date; deliveries: number }

export interface Store {
  client: MongoClient;
  /** for reads and admin commands only: writes go through `collection()` */
  db: Db;
  /** true on the embedded FerretDB, whose atomicity comes from the PostgreSQL guard */
  guarded: boolean;
  domains: GuardedCollection<DomainDoc>;
  classes: GuardedCollection<ClassDoc>;
  files: GuardedCollection<FileDoc>;
  hosts: GuardedCollection<HostDoc>;
  devices: GuardedCollection<DeviceDoc>;
  counters: GuardedCollection<CounterDoc>;
  deadletters: GuardedCollection<DeadLetterDoc>;
  settings: GuardedCollection<SettingDoc>;
  /** any other collection, with the same atomic writes */
  collection<T extends Document>(name: string): GuardedCollection<T>;
  close(): Promise<void>;
}

export const classId = (domain: string, cls: string) => `${domain}\u001f${cls}`;
export const fileId = (domain: string, key: string) => `${domain}\u001f${key}`;

/** Connect, retrying while the metadata server is still starting, and ensure indexes. */
export async function openStore(url: string, dbName: string, log: Logger, opts: { indexes?: boolean } = {}): Promise<Store> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5_000, maxPoolSize: 32, retryWrites: true, retryReads: true,
    // a metadata server that restarts (a rolling restart) must not leave operations waiting for
    // ever: a connection that answers nothing for 60 s is dropped, a free connection is waited for
    // at most 15 s, a handshake at most 5 s, and the server is looked at again every 2 s meanwhile
    socketTimeoutMS: 60_000, waitQueueTimeoutMS: 15_000, connectTimeoutMS: 5_000, heartbeatFrequencyMS: 2_000,
  });
  for (let attempt = 1; ; attempt++) {
    try {
      await client.connect();
      break;
    } catch (err) {
      if (attempt >= 30) throw err;
      log.warn("metadata server not ready; retrying", { attempt, err });
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
    }
  }
  watchMetadataServer(client, log);
  const db = client.db(dbName);
  const guarded = await checkAtomicity(db);
  const coll = <T extends Document>(name: string) => new GuardedCollection<T>(db.collection<T>(name), guarded);
  const store: Store = {
    client,
    db,
    guarded,
    domains: coll("domains"),
    classes: coll("classes"),
    files: coll("files"),
    hosts: coll("hosts"),
    devices: coll("devices"),
    counters: coll("counters"),
    deadletters: coll("deadletters"),
    settings: coll("settings"),
    collection: coll,
    close: () => client.close(),
  };
  if (opts.indexes !== false) await ensureIndexes(store);
  if (guarded) {
    // rows of documents deleted by a process that died before removing them
    await Promise.all([store.domains, store.classes, store.files, store.hosts, store.devices, store.settings, store.deadletters].map((c) =>
      c.sweepDeleted().catch((err) => log.warn("could not sweep deleted documents", { collection: c.collectionName, err }))));
  }
  return store;
}

/** a monitor that reported nothing (neither success nor failure) for this long is stuck */
const MONITOR_STALL_MS = 30_000;

/**
 * Says when the metadata server becomes unreachable and reachable again, and unsticks the
 * driver's server monitor: after a metadata machine restarted, a client was seen answering every
 * operation with the old connection's error for minutes while other machines' clients had long
 * recovered. A monitor silent for MONITOR_STALL_MS is replaced by reconnecting the client
 * (operations in flight fail and are retried by their callers); failing that, the process exits
 * for its supervisor to restart it.
 */
function watchMetadataServer(client: MongoClient, log: Logger): void {
  let lastReport = Date.now();
  let down: string | null = null;
  let reconnecting = false;
  client.on("serverHeartbeatSucceeded", () => {
    lastReport = Date.now();
    if (down !== null) log.info("metadata server reachable again", { wasDown: down });
    down = null;
  });
  client.on("serverHeartbeatFailed", (e) => {
    lastReport = Date.now();
    if (down === null) log.warn("metadata server unreachable", { err: e.failure?.message });
    down ??= new Date().toISOString();
  });
  let closed = false;
  client.on("topologyClosed", () => { if (!reconnecting) closed = true; });
  const timer = setInterval(() => {
    if (closed || reconnecting || Date.now() - lastReport < MONITOR_STALL_MS) return;
    reconnecting = true;
    log.error("metadata server monitor silent; reconnecting", { silentMs: Date.now() - lastReport });
    reconnectClient(client).then(() => {
      lastReport = Date.now();
      log.info("metadata client reconnected");
    }).catch((err) => {
      log.error("metadata client could not reconnect; exiting for the supervisor to restart this process", { err });
      process.exit(1);
    }).finally(() => { reconnecting = false; });
  }, 5_000);
  timer.unref();
}

/**
 * Close a client's connections and monitor and open them again: collections taken from it stay
 * valid (operations meanwhile fail and are retried by their callers).
 */
export async function reconnectClient(client: MongoClient): Promise<void> {
  await client.close().catch(() => {});
  await client.connect();
}

async function ensureIndexes(s: Store): Promise<void> {
  // not unique: a rename briefly has the fid under both keys (insert first, so a crash loses nothing)
  await s.files.createIndex({ fid: 1 }, { name: "fid_lookup" });
  await s.files.createIndex({ domain: 1, key: 1 }, { unique: true, name: "domain_key" });
  await s.files.createIndex({ devids: 1 }, { name: "devids" });
  await s.classes.createIndex({ domain: 1 }, { name: "domain" });
  await s.devices.createIndex({ hostid: 1 }, { name: "hostid" });
  await s.files.createIndex({ domain: 1, class: 1 }, { name: "domain_class" });
  await s.hosts.createIndex({ hostname: 1 }, { unique: true, name: "hostname" });
}

/**
 * MongoDB is atomic per document. FerretDB is only with the PostgreSQL guard installed by the
 * launcher (deploy/metadata-guard.sql): refuse to run on a FerretDB without it, rather than lose
 * updates. The probe writes one document without bumping its `_rev`, which the guard must refuse.
 */
async function checkAtomicity(db: Db): Promise<boolean> {
  const info = await db.admin().command({ buildInfo: 1 });
  if (!("ferretdbVersion" in info)) return false;
  const probe = db.collection<{ _id: string; at?: number; _rev?: number }>("atomicity_probe");
  await probe.insertOne({ _id: "probe", [REV]: 0 }).catch((err) => { if ((err as { code?: number }).code !== 11000) throw err; });
  try {
    await probe.updateOne({ _id: "probe" }, { $set: { at: Date.now() } });
  } catch (err) {
    if (/mogile_conflict/.test((err as Error).message)) return true;
    throw err;
  }
  throw new Error("the metadata server is FerretDB without mogile's atomicity guard: updates could be lost (start it with deploy/metadata.ts, which installs deploy/metadata-guard.sql)");
}

/**
 * A counter in the metadata store (atomic through the store layer). Fids and host ids use
 * actors/runtime/counters.ts (NATS KV), off the metadata server's hot path.
 */
export async function nextId(counters: GuardedCollection<CounterDoc>, name: string): Promise<number> {
  const doc = await counters.findOneAndUpdate({ _id: name }, { $inc: { next: 1 } }, { upsert: true, returnDocument: "after" });
  return doc!.next;
}
