// The metadata store: MongoDB collections, their indexes, and the queries actors share.
// Only single-document atomic writes (FerretDB has no transactions): see DESIGN.md.
import { MongoClient, type Collection, type Db } from "mongodb";
import type { DeviceStateName, HostStateName } from "../../protocol/schemas.ts";
import type { Logger } from "./log.ts";

export interface DomainDoc { _id: string; createdAt: Date }
export interface ClassDoc {
  _id: string; domain: string; class: string; mindevcount: number; replpolicy: string; hashtype: string;
  /** copies create_close waits for (absent = 1, MogileFS behaviour) */
  durable_copies?: number;
}
/** _id is fileId(domain, key): get_paths is one primary-key lookup */
export interface FileDoc {
  _id: string; fid: number; domain: string; key: string; class: string; length: number; devids: number[]; createdAt: Date;
  /** `ALG:hex`, stored when it matches the class hashtype */
  checksum?: string | null;
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
  db: Db;
  domains: Collection<DomainDoc>;
  classes: Collection<ClassDoc>;
  files: Collection<FileDoc>;
  hosts: Collection<HostDoc>;
  devices: Collection<DeviceDoc>;
  counters: Collection<CounterDoc>;
  deadletters: Collection<DeadLetterDoc>;
  settings: Collection<SettingDoc>;
  close(): Promise<void>;
}

export const classId = (domain: string, cls: string) => `${domain}\u001f${cls}`;
export const fileId = (domain: string, key: string) => `${domain}\u001f${key}`;

/** Connect, retrying while the metadata server is still starting, and ensure indexes. */
export async function openStore(url: string, dbName: string, log: Logger, opts: { indexes?: boolean } = {}): Promise<Store> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, maxPoolSize: 32, retryWrites: true, retryReads: true });
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
  const db = client.db(dbName);
  const store: Store = {
    client,
    db,
    domains: db.collection("domains"),
    classes: db.collection("classes"),
    files: db.collection("files"),
    hosts: db.collection("hosts"),
    devices: db.collection("devices"),
    counters: db.collection("counters"),
    deadletters: db.collection("deadletters"),
    settings: db.collection("settings"),
    close: () => client.close(),
  };
  if (opts.indexes !== false) await ensureIndexes(store);
  return store;
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
 * A counter in the metadata store. Not safe under concurrency on FerretDB v1 (its $inc is not
 * isolated): only for ids where a rare repeat is harmless (fsck log rows). Fids and host ids use
 * actors/runtime/counters.ts.
 */
export async function nextId(counters: Collection<CounterDoc>, name: string): Promise<number> {
  const doc = await counters.findOneAndUpdate({ _id: name }, { $inc: { next: 1 } }, { upsert: true, returnDocument: "after" });
  return doc!.next;
}
