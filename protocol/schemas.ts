// zod schemas for every request, reply, job and event on the wire. Field names follow MogileFS.
import { z } from "zod";

/** MogileFS booleans: true when non-empty and not "0"; JSON callers may send real booleans. */
export const zbool = z.preprocess(
  (v) => (typeof v === "string" ? v !== "" && v !== "0" : typeof v === "number" ? v !== 0 : v),
  z.boolean(),
);
const zint = (min = 0) => z.coerce.number().int().min(min);
const name = (max: number) => z.string().min(1).max(max);

export const domainName = name(255).refine((s) => s !== "0", "domain must not be 0");
export const keyName = name(255).refine((s) => !s.includes("\0"), "key must not contain NUL");
export const className = name(50);

export const DEVICE_STATES = ["alive", "down", "readonly", "drain", "dead"] as const;
export const HOST_STATES = ["alive", "down", "readonly", "dead"] as const;
export const OBSERVED_STATES = ["writeable", "readable", "unreachable"] as const;
export type DeviceStateName = (typeof DEVICE_STATES)[number];
export type HostStateName = (typeof HOST_STATES)[number];
export type ObservedState = (typeof OBSERVED_STATES)[number];

// ---- domains and classes ----
export const CreateDomain = z.object({ domain: domainName });
export const CreateClass = z.object({
  domain: domainName,
  class: className,
  mindevcount: zint(1),
  replpolicy: z.string().max(255).optional(),
  hashtype: z.enum(["MD5", "SHA-1", "NONE"]).optional(),
});
export const GetDomains = z.object({});

// ---- hosts and devices ----
export const CreateHost = z.object({
  host: name(40),
  ip: z.string().min(1).max(64),
  port: zint(1).max(65535),
  status: z.enum(HOST_STATES).default("alive"),
});
export const CreateDevice = z.object({
  devid: zint(1),
  hostid: zint(1).optional(),
  hostname: name(40).optional(),
  state: z.enum(DEVICE_STATES).default("alive"),
});
/** mogile addition: a storage agent registers its host and devices on start (idempotent). */
export const RegisterStorage = z.object({
  host: name(40),
  ip: z.string().min(1).max(64),
  port: zint(1).max(65535),
  devids: z.array(zint(1)).min(1),
});
export const GetHosts = z.object({});
export const GetDevices = z.object({ devid: zint(1).optional() });

// ---- files ----
export const CreateOpen = z.object({
  domain: domainName,
  key: z.string().max(255).default(""),
  class: z.string().max(50).optional(),
  multi_dest: zbool.default(false),
  size: zint(0).optional(),
});
export const CreateClose = z.object({
  domain: domainName,
  fid: zint(1),
  devid: zint(1),
  path: z.string().min(1),
  key: z.string().max(255).default(""),
  size: zint(0).optional(),
});
export const GetPaths = z.object({
  domain: domainName,
  key: keyName,
  noverify: zbool.default(false),
  pathcount: zint(0).default(2),
});
export const FileInfo = z.object({ domain: domainName, key: keyName, devices: zbool.default(false) });
export const Delete = z.object({ domain: domainName, key: keyName });
export const ListKeys = z.object({
  domain: domainName,
  prefix: z.string().max(255).default(""),
  after: z.string().max(255).optional(),
  limit: zint(1).default(1000),
});
export const Noop = z.object({});
/** mogile addition: jobs the replicator or deleter gave up on, for operators */
export const FailedJobs = z.object({ kind: z.enum(["replicate", "delete"]).optional(), limit: zint(1).max(1000).default(100) });

/** Request schemas by command name: the query actor dispatches through this map. */
export const requests = {
  create_domain: CreateDomain,
  create_class: CreateClass,
  get_domains: GetDomains,
  create_host: CreateHost,
  create_device: CreateDevice,
  register_storage: RegisterStorage,
  get_hosts: GetHosts,
  get_devices: GetDevices,
  create_open: CreateOpen,
  create_close: CreateClose,
  get_paths: GetPaths,
  file_info: FileInfo,
  delete: Delete,
  list_keys: ListKeys,
  noop: Noop,
  failed_jobs: FailedJobs,
} as const;
export type Command = keyof typeof requests;
export type Request<C extends Command> = z.input<(typeof requests)[C]>;
export type Parsed<C extends Command> = z.output<(typeof requests)[C]>;

// ---- replies ----
export interface Dest { devid: number; path: string }
export interface Replies {
  create_domain: { domain: string };
  create_class: { domain: string; class: string; mindevcount: number };
  get_domains: { domains: { domain: string; classes: { class: string; mindevcount: number; replpolicy: string; hashtype: string }[] }[] };
  create_host: { hostid: number; hostname: string };
  create_device: { devid: number; hostid: number };
  register_storage: { hostid: number; devids: number[] };
  get_hosts: { hosts: HostInfo[] };
  get_devices: { devices: DeviceInfo[] };
  create_open: { fid: number; devid: number; path: string; dev_count: number; dests: Dest[] };
  create_close: { fid: number; key: string; length: number };
  get_paths: { paths: string[]; fid: number; length: number };
  file_info: { fid: number; domain: string; class: string; key: string; length: number; devcount: number; devids?: number[] };
  delete: Record<string, never>;
  list_keys: { keys: string[]; key_count: number; next_after: string };
  noop: Record<string, never>;
  failed_jobs: { jobs: { kind: string; fid: number; error: string; at: string; deliveries: number }[] };
}
export type Reply<C extends Command> = Replies[C];

export interface HostInfo { hostid: number; hostname: string; hostip: string; http_port: number; status: HostStateName }
export interface DeviceInfo {
  devid: number; hostid: number; status: DeviceStateName; weight: number;
  mb_total: number | null; mb_used: number | null; mb_free: number | null;
  observed_state: ObservedState | null;
}

// ---- jobs, heartbeats, events ----
export const ReplicateJob = z.object({
  fid: zint(1),
  /** when known, the file is found by its primary key (domain, key) instead of by fid */
  domain: z.string().optional(),
  key: z.string().optional(),
  /** the file as create_close linked it: a first delivery needs no metadata read */
  class: z.string().optional(),
  length: z.number().int().min(0).optional(),
  devids: z.array(zint(1)).optional(),
  reason: z.string().optional(),
  /** when the job was queued (ms) */
  ts: z.number().optional(),
});
export type ReplicateJob = z.infer<typeof ReplicateJob>;
export const DeleteJob = z.object({ fid: zint(1), devids: z.array(zint(1)), reason: z.string().optional() });
export type DeleteJob = z.infer<typeof DeleteJob>;

export const Heartbeat = z.object({
  hostid: zint(1), devid: zint(1), host: z.string(), url: z.string(),
  total: z.number(), used: z.number(), free: z.number(), ts: z.number(),
  writable: z.boolean(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const ObservedDevice = z.object({
  devid: zint(1), hostid: zint(1),
  observed: z.enum(OBSERVED_STATES),
  total: z.number(), used: z.number(), free: z.number(),
  /** when the monitor last evaluated this device (ms); stale entries are ignored */
  ts: z.number(),
  /** when the device's last heartbeat arrived (ms; 0 = never) */
  lastHeartbeat: z.number(),
});
export type ObservedDevice = z.infer<typeof ObservedDevice>;

export const FileChanged = z.object({ domain: z.string(), key: z.string(), fid: z.number() });
export type FileChanged = z.infer<typeof FileChanged>;

export const StorageFetch = z.object({ devid: zint(1), fid: zint(1), from: z.string().url(), length: zint(0) });
export type StorageFetch = z.infer<typeof StorageFetch>;
