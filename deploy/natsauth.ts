// NATS users and their permissions: one account (MOGILE, with JetStream), one nkey user per role,
// least privilege. The launcher generates every user's seed once into <data dir>/secrets/nats/<user>.nk
// (mode 0600) and writes the server's accounts block (public keys and permissions only, no secret)
// to <data dir>/secrets/nats-accounts.conf; every node of a NATS cluster includes that same file.
//
// Who may do what (subjects in protocol/subjects.ts):
//   operator    everything: creates, purges and deletes streams and buckets (launcher, tests, repairs)
//   query       serves mogile.rpc.> ; publishes jobs and events; uploads/counters buckets
//   replicator  consumes replicate jobs only; asks storage agents to fetch; publishes delete jobs
//   deleter     consumes delete jobs only
//   monitor     reads heartbeats; writes observed device state
//   reaper      expires uploads (upload bucket), recovers dead devices (recovery bucket, replicate jobs)
//   fsck        checks files: fetch/list on storage agents, jobs, its lease
//   gateway, legacy, s3   call tracker commands (they enforce their own access rules; legacy and s3 never manage keys)
//   storage-<hostid>  publishes only its own heartbeats, answers only its own mogile.storage.<hostid>.>
//   app         file commands only (create_open, get_paths, delete, …)
//   admin       every tracker command
//   ops         read-only: watches heartbeats and events, JetStream info, service stats
// Every actor process (storage agents too) answers mogile.metrics.scrape; the gateway, admin and
// ops may ask it (the gateway serves the answers as its /metrics).
// Each user has its own reply inbox prefix (_INBOX_<user>): no one reads another user's replies.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { buckets, consumers, streams, subjects } from "../protocol/subjects.ts";
import { inboxPrefix, seedFile } from "../protocol/credentials.ts";
import { ensureSecretsDir, secretsDir, writeSecretOnce } from "./secrets.ts";

export const ACTOR_USERS = ["query", "replicator", "deleter", "monitor", "reaper", "fsck", "gateway", "legacy", "s3"] as const;
export const PEOPLE_USERS = ["operator", "app", "admin", "ops"] as const;
export const storageUser = (hostid: number) => `storage-${hostid}`;

/** Tracker commands an app may call: the file commands and the read-only name lookup. */
/** the commands the S3 actor calls (nothing else: no key management, no cluster administration) */
export const S3_COMMANDS = ["noop", "get_domains", "create_domain", "update_domain", "delete_domain", "create_open", "create_close", "get_paths", "file_info", "delete", "list_keys", "key_secret"] as const;
export const APP_COMMANDS = ["noop", "get_domains", "create_open", "create_close", "get_paths", "file_info", "delete", "rename", "updateclass", "list_keys"] as const;

interface Permissions {
  publish: string[];
  /** subjects refused although `publish` would allow them */
  denyPublish?: string[];
  subscribe: string[];
  /** may answer requests it received (reply subjects of other users' inboxes) */
  respond?: boolean;
}

const API = "$JS.API";
const JS_BASE = [`${API}.INFO`, `${API}.STREAM.INFO.*`];
const kvRead = (bucket: string) => {
  const s = `KV_${bucket}`;
  return [
    `${API}.DIRECT.GET.${s}`, `${API}.DIRECT.GET.${s}.>`, `${API}.STREAM.MSG.GET.${s}`,
    // watchers and key listings use ordered (ephemeral) consumers
    `${API}.CONSUMER.CREATE.${s}`, `${API}.CONSUMER.CREATE.${s}.>`, `${API}.CONSUMER.DELETE.${s}.>`,
    `${API}.CONSUMER.INFO.${s}.>`, `${API}.CONSUMER.MSG.NEXT.${s}.>`,
  ];
};
const kvWrite = (bucket: string) => [...kvRead(bucket), `$KV.${bucket}.>`];
const consume = (stream: string, consumer: string) => [
  `${API}.CONSUMER.CREATE.${stream}.${consumer}`, `${API}.CONSUMER.CREATE.${stream}.${consumer}.>`,
  `${API}.CONSUMER.DURABLE.CREATE.${stream}.${consumer}`, `${API}.CONSUMER.INFO.${stream}.${consumer}`,
  `${API}.CONSUMER.MSG.NEXT.${stream}.${consumer}`, `$JS.ACK.${stream}.${consumer}.>`,
];
const EVENTS = "mogile.event.>";
const METRICS = subjects.metricsScrape;
const JOBS = [subjects.replicateJob, subjects.deleteJob];

function permissions(user: string): Permissions {
  const inbox = `${inboxPrefix(user)}.>`;
  // every actor answers metrics scrapes: a reply to the request it received (allow_responses)
  const actor = (publish: string[], subscribe: string[] = []): Permissions => ({
    publish: [...JS_BASE, EVENTS, ...publish],
    subscribe: [inbox, EVENTS, METRICS, ...subscribe],
    respond: true,
  });
  const storage = /^storage-(\d+)$/.exec(user);
  if (storage) {
    const hostid = Number(storage[1]);
    return {
      publish: [`mogile.hb.${hostid}.>`, subjects.rpc("get_hosts"), subjects.rpc("noop")],
      subscribe: [inbox, `mogile.storage.${hostid}.>`, METRICS],
      respond: true,
    };
  }
  switch (user) {
    case "operator": return { publish: [">"], subscribe: [">"], respond: true };
    // sealed key secrets go to the s3 actor only
    case "admin": return { publish: [`${subjects.rpcPrefix}.>`, "$SRV.>", METRICS], denyPublish: [subjects.rpc("key_secret")], subscribe: [inbox] };
    case "app": return { publish: APP_COMMANDS.map((c) => subjects.rpc(c)), subscribe: [inbox] };
    case "ops": return {
      publish: ["$SRV.>", METRICS, ...JS_BASE, `${API}.STREAM.NAMES`, `${API}.STREAM.LIST`, `${API}.CONSUMER.INFO.*.*`, `${API}.CONSUMER.NAMES.*`, `${API}.CONSUMER.LIST.*`],
      subscribe: [inbox, subjects.heartbeatAll, EVENTS],
    };
    case "query": return {
      ...actor([...JOBS, ...kvWrite(buckets.uploads), ...kvWrite(buckets.counters), ...kvRead(buckets.deviceState), ...kvRead(buckets.recovery)],
        [`${subjects.rpcPrefix}.>`, "$SRV.>"]),
      respond: true,
    };
    case "replicator": return actor([...JOBS, "mogile.storage.*.fetch", ...consume(streams.replicate, consumers.replicator), ...kvRead(buckets.deviceState)]);
    case "deleter": return actor([subjects.deleteJob, ...consume(streams.delete, consumers.deleter), ...kvRead(buckets.deviceState), ...kvRead(buckets.uploads)]);
    case "monitor": return actor([...kvWrite(buckets.deviceState)], [subjects.heartbeatAll]);
    case "reaper": return actor([...JOBS, ...kvWrite(buckets.uploads), ...kvWrite(buckets.leases), ...kvWrite(buckets.recovery), ...kvRead(buckets.deviceState)]);
    case "fsck": return actor([...JOBS, "mogile.storage.*.fetch", "mogile.storage.*.list", ...kvWrite(buckets.leases), ...kvRead(buckets.uploads), ...kvRead(buckets.deviceState)]);
    case "gateway": return { publish: [`${subjects.rpcPrefix}.>`, METRICS], denyPublish: [subjects.rpc("key_secret")], subscribe: [inbox, EVENTS, METRICS], respond: true };
    // S3 keys are gateway keys: it looks them up (sealed secrets) but never manages them
    case "s3": return { publish: S3_COMMANDS.map((c) => subjects.rpc(c)), subscribe: [inbox, EVENTS, METRICS], respond: true };
    // the classic protocol has no keys: it never manages or looks up gateway keys
    case "legacy": return { publish: [`${subjects.rpcPrefix}.>`], denyPublish: [subjects.rpc("key_add"), subjects.rpc("key_list"), subjects.rpc("key_revoke"), subjects.rpc("key_lookup"), subjects.rpc("key_secret")], subscribe: [inbox, EVENTS, METRICS], respond: true };
    default: throw new Error(`no NATS permissions defined for user ${user}`);
  }
}

const natsDir = (dataDir: string) => path.join(secretsDir(dataDir), "nats");
export const accountsFile = (dataDir: string) => path.join(secretsDir(dataDir), "nats-accounts.conf");
/** The seed file of a user of this cluster. */
export const userSeedFile = (dataDir: string, user: string) => seedFile(secretsDir(dataDir), user);

/** Create a user's seed once (mode 0600); returns its public key. */
function ensureUser(dataDir: string, user: string): string {
  const file = userSeedFile(dataDir, user);
  if (!existsSync(file)) writeSecretOnce(file, new TextDecoder().decode(createUser().getSeed()) + "\n");
  return fromSeed(new TextEncoder().encode(readFileSync(file, "utf8").trim())).getPublicKey();
}

/** Storage users that exist in this data dir (hostids). */
function storageHostids(dataDir: string): number[] {
  const dir = natsDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((f) => /^storage-(\d+)\.nk$/.exec(f)).filter((m) => m !== null).map((m) => Number(m![1])).sort((a, b) => a - b);
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;

/**
 * Make sure every fixed user (and a storage user per `hostids`) has a seed, and write the accounts
 * block. Returns true when the block changed (running servers must reload it).
 */
export function writeNatsAuth(dataDir: string, hostids: number[] = []): boolean {
  ensureSecretsDir(dataDir);
  const users = [...PEOPLE_USERS, ...ACTOR_USERS, ...[...new Set([...storageHostids(dataDir), ...hostids])].sort((a, b) => a - b).map(storageUser)];
  const entries = users.map((user) => {
    const p = permissions(user);
    return [
      `      # ${user}`,
      `      { nkey: ${ensureUser(dataDir, user)}, permissions: {`,
      `          publish: { allow: ${list(p.publish)}${p.denyPublish ? `, deny: ${list(p.denyPublish)}` : ""} }`,
      `          subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.respond ? ["          allow_responses: true"] : []),
      "      } }",
    ].join("\n");
  });
  const text = [
    "# written by mogile (deploy/natsauth.ts): public keys and permissions only; the seeds are in ./nats/",
    "accounts {",
    "  MOGILE {",
    "    jetstream: enabled",
    "    users: [",
    ...entries,
    "    ]",
    "  }",
    "}",
    "",
  ].join("\n");
  const file = accountsFile(dataDir);
  const before = existsSync(file) ? readFileSync(file, "utf8") : "";
  if (before === text) return false;
  writeFileSync(file, text, { mode: 0o600 });
  return true;
}
