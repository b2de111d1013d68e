// zod schemas for every request, reply, job and event on the wire. Field names follow MogileFS.
import { z } from "zod";

/** MogileFS booleans: true when non-empty and not "0"; JSON callers may send real booleans. */
export const zbool = z.preprocess(
  (v) => (typeof v === "string" ? v !== "" && v !== "0" : typeof v === "number" ? v !== 0 : v),
  z.boolean(),
);
const zint = (min = 0) => z.coerce.number().int().min(min);
const name = (max: number) => z.string().min(1).max(max);

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** domain and class names: no control characters (the file id joins domain and key with \x1f) */
export const domainName = name(255).refine((s) => s !== "0", "domain must not be 0").refine((s) => !CONTROL.test(s), "domain must not contain control characters");
export const keyName = name(255).refine((s) => !s.includes("\0"), "key must not contain NUL");
export const className = name(50).refine((s) => !CONTROL.test(s), "class must not contain control characters");
/** a key that may be empty (create_open/create_close: empty means "discard") */
const optionalKey = z.string().max(255).refine((s) => !s.includes("\0"), "key must not contain NUL");

export const DEVICE_STATES = ["alive", "down", "readonly", "drain", "dead"] as const;
export const HOST_STATES = ["alive", "down", "readonly", "dead"] as const;
/** MogileFS's three, plus `unmounted` (mogile): heartbeating, but its directory lacks its marker */
export const OBSERVED_STATES = ["writeable", "readable", "unreachable", "unmounted"] as const;
export type DeviceStateName = (typeof DEVICE_STATES)[number];
export type HostStateName = (typeof HOST_STATES)[number];
export type ObservedState = (typeof OBSERVED_STATES)[number];

// ---- domains and classes ----
export const HASH_TYPES = ["MD5", "SHA-1", "SHA-256", "NONE"] as const;
export type HashType = (typeof HASH_TYPES)[number];
const hashtype = z.enum(HASH_TYPES);
/**
 * A replication policy: `MultipleHosts(N?)` (default), `MultipleDevices(N?)`, or zone-aware
 * `MultipleNetworks(N?)` (alias `HostsPerNetwork(N?)`); an empty or zero N means the class mindevcount.
 * The `MogileFS::ReplicationPolicy::` prefix is accepted. The one grammar: actors/runtime/domain/policy.ts
 * parses with this pattern (group 1 the name, group 2 the N).
 */
export const REPL_POLICY_PATTERN = /^(?:MogileFS::ReplicationPolicy::)?(MultipleHosts|MultipleDevices|MultipleNetworks|HostsPerNetwork)\(\s*(\d*)\s*\)$/;
/** the policy a class gets when none is given */
export const DEFAULT_REPL_POLICY = "MultipleHosts()";
export const replPolicy = z.string().max(255).regex(
  REPL_POLICY_PATTERN,
  "replpolicy must be MultipleHosts(N?), MultipleDevices(N?) or MultipleNetworks(N?)",
);

export const CreateDomain = z.object({ domain: domainName });
export const DeleteDomain = z.object({ domain: domainName });
export const GetDomains = z.object({});
/** mogile addition: per-domain access options; omitted ones stay as they are */
export const UpdateDomain = z.object({
  domain: domainName,
  /** reads need signed URLs (get_paths hands them out); applies to files written from then on */
  signed_get: zbool.optional(),
  /** the HTTP gateway serves this domain's files without an API key */
  anonymous_read: zbool.optional(),
});
export const CreateClass = z.object({
  domain: domainName,
  class: className,
  mindevcount: zint(1),
  replpolicy: replPolicy.optional(),
  hashtype: hashtype.optional(),
  /** mogile addition: create_close returns only once this many copies exist (1 = MogileFS behaviour) */
  durable_copies: zint(1).max(100).optional(),
  /** mogile addition: 1 = the copies beyond the first are made after the ack (MogileFS behaviour); default 0: all in the PUT */
  async_copies: zbool.optional(),
});
/** `dry_run=1` (mogile addition): report what the change would do to the class's files, change nothing */
export const UpdateClass = CreateClass.extend({ dry_run: zbool.optional() });
export const DeleteClass = z.object({ domain: domainName, class: className });

// ---- hosts and devices ----
const ip = z.string().min(1).max(64);
const port = zint(1).max(65535);
const zone = z.string().min(1).max(64).refine((s) => !CONTROL.test(s), "zone must not contain control characters");
export const CreateHost = z.object({
  host: name(40),
  /** required; checked after host_exists, as MogileFS does */
  ip: ip.optional(),
  port: port.optional(),
  getport: port.optional(),
  altip: ip.optional(),
  altmask: z.string().max(64).optional(),
  status: z.enum(HOST_STATES).default("down"),
  /** mogile addition: the host's zone (rack, network, site) for MultipleNetworks placement */
  zone: zone.optional(),
});
export const UpdateHost = z.object({
  host: name(40),
  ip: ip.optional(),
  port: port.optional(),
  getport: port.optional(),
  /** an empty value clears it */
  altip: z.union([ip, z.literal("")]).optional(),
  altmask: z.string().max(64).optional(),
  status: z.enum(HOST_STATES).optional(),
  /** an empty zone is absent (front doors drop empty arguments); "none" clears it */
  zone: zone.optional(),
});
export const DeleteHost = z.object({ host: name(40) });
export const GetHosts = z.object({ hostid: zint(1).optional() });
export const CreateDevice = z.object({
  devid: zint(1),
  hostid: zint(1).optional(),
  hostname: name(40).optional(),
  state: z.enum(DEVICE_STATES).default("alive"),
});
export const GetDevices = z.object({ devid: zint(1).optional() });
/** `host` is the host name, `device` the devid (MogileFS argument names) */
export const SetState = z.object({ host: name(40), device: zint(1), state: z.enum(DEVICE_STATES) });
export const SetWeight = z.object({ host: name(40), device: zint(1), weight: zint(0) });
/** mogile addition: a storage agent registers its host and devices on start (idempotent). */
export const RegisterStorage = z.object({
  host: name(40),
  ip,
  port,
  devids: z.array(zint(1)).min(1),
  /** a host id chosen by the operator (multi-machine configs: its NATS user is made for it beforehand) */
  hostid: zint(1).max(1_000_000).optional(),
  /** the host's zone (rack); set at every registration, so a config change reaches the tracker */
  zone: zone.optional(),
});

// ---- files ----
/** `ALG:hex`, e.g. `MD5:0cc175b9c0f1b6a831c399e269772661` */
export const checksum = z.string().regex(/^(MD5|SHA-1|SHA-256):[0-9a-fA-F]{32,128}$/, "checksum must be ALG:hex");
export const CreateOpen = z.object({
  domain: domainName,
  key: optionalKey.default(""),
  class: z.string().max(50).optional(),
  multi_dest: zbool.default(false),
  /** a fid to use instead of an allocated one (fid_in_use if it may be taken) */
  fid: zint(0).optional(),
  size: zint(0).optional(),
  /** may be given here or at create_close */
  checksum: checksum.optional(),
  checksumverify: zbool.optional(),
});
/**
 * File metadata kept with a file (mogile addition; the S3 API stores content-type, cache-control,
 * content-encoding, content-disposition, x-amz-meta-* and the etag here): lowercase names, at most
 * 64 entries and 8 KiB in all.
 */
export const FILE_META_MAX_BYTES = 8192;
export const fileMeta = z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, "metadata names are lowercase letters, digits, dot, dash, underscore"),
  z.string().max(FILE_META_MAX_BYTES).refine((v) => !CONTROL.test(v), "metadata values must not contain control characters"))
  .refine((m) => Object.keys(m).length <= 64, "at most 64 metadata entries")
  .refine((m) => Object.entries(m).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) <= FILE_META_MAX_BYTES, `metadata is limited to ${FILE_META_MAX_BYTES} bytes in all`);
export const CreateClose = z.object({
  domain: domainName,
  fid: zint(1),
  devid: zint(1),
  path: z.string().min(1),
  key: optionalKey.default(""),
  size: zint(0).optional(),
  checksum: checksum.optional(),
  checksumverify: zbool.default(false),
  /**
   * mogile addition: the `x-mogile-receipt` header of the storage node's PUT answer (signed by the
   * cluster): the copies it lists are recorded without a check back to the disks
   */
  receipt: z.string().max(1024).optional(),
  /** mogile addition: metadata kept with the file (replaces the previous version's) */
  meta: fileMeta.optional(),
  /**
   * mogile addition: return only once the file has this many copies (true or 1 = as many as the
   * class policy wants). On timeout the file is linked all the same: `replication_timeout`.
   */
  wait_replicated: z.preprocess(
    (v) => (v === true || v === "true" || v === "yes" ? 1 : v === false || v === "false" || v === "no" ? 0 : v),
    zint(0).max(100),
  ).optional(),
});
export const GetPaths = z.object({
  domain: domainName,
  key: keyName,
  noverify: zbool.default(false),
  pathcount: zint(0).default(2),
  /** `alt`: URLs use each host's alternate IP */
  zone: z.string().max(32).optional(),
  /** mogile addition: also the file's stored metadata, creation time (ms) and checksum */
  meta: zbool.optional(),
});
/** `meta=1` adds the file's metadata and its creation time (mogile addition) */
export const FileInfo = z.object({ domain: domainName, key: keyName, devices: zbool.default(false), meta: zbool.optional() });
/** fid 0 means "not given" (MogileFS then uses domain + key) */
export const FileDebug = z.object({ fid: zint(0).optional(), domain: domainName.optional(), key: keyName.optional() });
/** mogile addition: why each copy of a file is where it is, and whether the file meets its policy */
export const Explain = z.object({ domain: domainName, key: keyName });
export const Delete = z.object({ domain: domainName, key: keyName });
export const Rename = z.object({ domain: domainName, from_key: keyName, to_key: keyName });
export const UpdateFileClass = z.object({ domain: domainName, key: keyName, class: className });
export const ListKeys = z.object({
  domain: domainName,
  prefix: z.string().max(255).default(""),
  after: z.string().max(255).optional(),
  /** 0 means the default (1000), as in MogileFS */
  limit: zint(0).default(1000).transform((n) => (n === 0 ? 1000 : n)),
  /** mogile addition: `files` lists each key's length, creation time and etag (the S3 API's listings) */
  details: zbool.optional(),
});
/** `to` is a count (MogileFS quirk), at most 500 */
export const ListFids = z.object({ from: zint(0).default(0), to: z.coerce.number().int().default(100).transform((n) => (n === 0 ? 100 : n)) });

// ---- control ----
export const Noop = z.object({});
/** the longest `sleep` (s): below the 30 s after which MogileFS kills a silent query worker, and the classic port's command timeout */
export const MAX_SLEEP_SEC = 25;
/**
 * The seconds a `sleep` waits. MogileFS has no cap, but its watchdog kills a query worker silent
 * for 30 s (and runs the query again), so a longer sleep never answered there either.
 */
export const sleepSeconds = (duration: number | undefined): number => Math.min(duration || 10, MAX_SLEEP_SEC);
/** `duration` seconds (0 or absent: 10, as MogileFS), capped at MAX_SLEEP_SEC; other requests are served meanwhile */
export const Sleep = z.object({ duration: z.coerce.number().min(0).optional() });
/** any arguments, echoed back as MogileFS does; caches of domains, classes, hosts and devices are reloaded */
export const ClearCache = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
export const ReplicateNow = z.object({});
export const ServerSetting = z.object({ key: name(255) });
export const ServerSettings = z.object({});
export const SetServerSetting = z.object({ key: name(255), value: z.string().max(4096).default("") });
export const Stats = z.object({});
/** mogile addition: jobs the replicator or deleter gave up on, for operators */
export const FailedJobs = z.object({ kind: z.enum(["replicate", "delete"]).optional(), limit: zint(1).max(1000).default(100) });

// ---- fsck and rebalance (state changes only: the fsck actor does the work) ----
/** MogileFS fsck log codes (§8), counted in fsck_status as num_<CODE> */
export const FSCK_EVCODES = ["NOPA", "POVI", "MISS", "BLEN", "GONE", "SRCH", "FOND", "REPL", "BCNT", "BSUM", "NSUM", "MSUM", "BALG"] as const;
export type FsckEvcode = (typeof FSCK_EVCODES)[number];
/** mogile extension: `domain` (and `class` within it) scope a run; a changed scope starts over */
export const FsckStart = z.object({ domain: domainName.optional(), class: className.optional() });
export const FsckStop = z.object({});
export const FsckReset = z.object({ policy_only: zbool.default(false), startpos: zint(0).default(0) });
export const FsckClearlog = z.object({});
export const FsckGetlog = z.object({ after_logid: zint(0).default(0) });
export const FsckStatus = z.object({});
/** `policy`: whitespace-separated key=value pairs (MogileFS grammar; parsed by the handler for bad_rebal_pol) */
export const RebalanceSetPolicy = z.object({ policy: z.string().max(4096).default("") });
export const RebalanceTest = z.object({});
export const RebalanceStart = z.object({});
export const RebalanceStop = z.object({});
export const RebalanceStatus = z.object({});
export const RebalanceReset = z.object({});

// ---- gateway keys (mogile addition; never forwarded by the classic protocol) ----
export const KEY_ACCESS = ["read", "write", "admin"] as const;
/** read: GET/HEAD/list/paths; write: also store, delete, rename, change class; admin: also the domain's classes */
export type KeyAccess = (typeof KEY_ACCESS)[number];
/** an access key id: 20 characters, `MK` and 18 of A-Z2-7 (S3-style) */
export const KEY_ID_PATTERN = /^MK[A-Z2-7]{18}$/;
const keyId = z.string().regex(KEY_ID_PATTERN, "id must be an access key id (MK…, 20 characters)");
export const KeyScopeSchema = z.object({ domain: domainName, access: z.enum(KEY_ACCESS) });
export type KeyScope = z.infer<typeof KeyScopeSchema>;
export const KeyAdd = z.object({
  name: z.string().max(200).refine((s) => !CONTROL.test(s), "name must not contain control characters").default(""),
  scopes: z.array(KeyScopeSchema).max(100).default([]),
  /** every domain and every admin command */
  cluster_admin: zbool.default(false),
});
export const KeyList = z.object({ domain: domainName.optional(), include_revoked: zbool.default(false) });
export const KeyRevoke = z.object({ id: keyId });
/** the gateway's view of one key (scopes and the secret's verifier, never the secret) */
export const KeyLookup = z.object({ id: keyId });
/** key_secret: a key with its secret sealed under the cluster key (only the s3 actor may ask: SigV4 needs the secret) */
export const KeySecret = z.object({ id: keyId });

/** Request schemas by command name: the query actor dispatches through this map. */
export const requests = {
  create_domain: CreateDomain,
  delete_domain: DeleteDomain,
  get_domains: GetDomains,
  update_domain: UpdateDomain,
  create_class: CreateClass,
  update_class: UpdateClass,
  delete_class: DeleteClass,
  create_host: CreateHost,
  update_host: UpdateHost,
  delete_host: DeleteHost,
  get_hosts: GetHosts,
  create_device: CreateDevice,
  get_devices: GetDevices,
  set_state: SetState,
  set_weight: SetWeight,
  register_storage: RegisterStorage,
  create_open: CreateOpen,
  create_close: CreateClose,
  get_paths: GetPaths,
  file_info: FileInfo,
  file_debug: FileDebug,
  explain: Explain,
  delete: Delete,
  rename: Rename,
  updateclass: UpdateFileClass,
  list_keys: ListKeys,
  list_fids: ListFids,
  noop: Noop,
  sleep: Sleep,
  clear_cache: ClearCache,
  replicate_now: ReplicateNow,
  server_setting: ServerSetting,
  server_settings: ServerSettings,
  set_server_setting: SetServerSetting,
  stats: Stats,
  failed_jobs: FailedJobs,
  fsck_start: FsckStart,
  fsck_stop: FsckStop,
  fsck_reset: FsckReset,
  fsck_clearlog: FsckClearlog,
  fsck_getlog: FsckGetlog,
  fsck_status: FsckStatus,
  rebalance_set_policy: RebalanceSetPolicy,
  rebalance_test: RebalanceTest,
  rebalance_start: RebalanceStart,
  rebalance_stop: RebalanceStop,
  rebalance_status: RebalanceStatus,
  rebalance_reset: RebalanceReset,
  key_add: KeyAdd,
  key_list: KeyList,
  key_revoke: KeyRevoke,
  key_lookup: KeyLookup,
  key_secret: KeySecret,
} as const;
export type Command = keyof typeof requests;
export type Request<C extends Command> = z.input<(typeof requests)[C]>;
export type Parsed<C extends Command> = z.output<(typeof requests)[C]>;

/** MogileFS commands that exist but come with a later issue: they answer `unsupported_command`. */
export const UNSUPPORTED_COMMANDS: readonly string[] = [];

// ---- replies (JSON; the classic protocol flattens them into MogileFS fields) ----
export interface Dest { devid: number; path: string }
/** mogile addition: a domain's access options (false when never set) */
export interface DomainOptions { signed_get: boolean; anonymous_read: boolean }
export interface DomainInfo extends DomainOptions { domain: string; classes: ClassInfo[] }
/** a key in a detailed listing: its length, creation time (ms since epoch) and, when stored, its etag */
export interface ListedFile { key: string; fid: number; length: number; mtime: number; etag?: string; checksum?: string }
export interface ClassInfo { class: string; mindevcount: number; replpolicy: string; hashtype: string; /** only when above 1 */ durable_copies?: number; /** only when set */ async_copies?: boolean }
export interface HostInfo {
  hostid: number; hostname: string; hostip: string; http_port: number; http_get_port: number | null;
  altip: string | null; altmask: string | null; status: HostStateName;
  /** mogile addition: present when the host has a zone */
  zone?: string;
}
export interface DeviceInfo {
  devid: number; hostid: number; status: DeviceStateName; weight: number;
  mb_total: number | null; mb_used: number | null; mb_free: number | null;
  observed_state: ObservedState | null;
  /** percent used (mogile: from heartbeats), null when unknown */
  utilization: number | null;
}
export interface FsckLogRow { logid: number; utime: number; fid: number; evcode: FsckEvcode; devid?: number }
/** rebalance progress; `state` is the MogileFS state string (key=value pairs) */
export interface RebalanceStatusReply {
  state: string; running: boolean; policy: string;
  sdevs: number[]; ddevs: number[];
  files_moved: number; bytes_moved: number; failed: number;
  time_started: number | null; time_stopped: number | null; time_finished: number | null;
}
/** a gateway key as listed: never its secret */
export interface KeyInfo {
  id: string; name: string; scopes: KeyScope[]; cluster_admin: boolean; revoked: boolean;
  /** ISO times */
  created: string; revoked_at?: string;
}
/**
 * update_class dry_run=1: the class's files, each judged by the current rule and by the new one on
 * the devices there are now. Bytes are those of the copies (a file of 10 bytes gaining 2 copies
 * counts 20). Files already below the current rule are counted apart (the change is not their cause).
 */
export interface ClassChangeDryRun {
  /** the rule now and the rule asked for */
  from_mindevcount: number; from_replpolicy: string; replpolicy: string;
  /** files and bytes looked at */
  files: number; bytes: number;
  /** files that would end with more copies than they have under the current rule */
  gain_files: number; gain_copies: number; gain_bytes: number;
  /** files that would end with fewer copies */
  lose_files: number; lose_copies: number; lose_bytes: number;
  /** files that would keep their count but have a copy moved (e.g. to another zone) */
  move_files: number; move_copies: number; move_bytes: number;
  unchanged_files: number;
  /** files below the current rule already (replication pending) */
  below_now_files: number;
  /** files the devices there are now could not bring to the new rule */
  unmet_files: number;
  /** false when the scan stopped at its time or placement limit: the counts are for the files scanned */
  complete: boolean;
  elapsed_ms: number;
}
/** How a copy came to be where it is (recorded with the copy; see actors/runtime/domain/placements.ts). */
export type PlacementCause = "create_open" | "chain" | "replicate" | "restore" | "drain" | "rebalance" | "fsck" | "surplus" | "dead";
export interface PlacementRecord {
  /** add: the copy was made or recorded here; drop: it was forgotten here */
  op: "add" | "drop"; cause: PlacementCause; why: string;
  /** ms since epoch */
  at: number;
  /** the other device: moved from / to, or the dead or lost device a copy replaced */
  dev?: number;
}
export interface ExplainCopy {
  devid: number; hostid: number | null; hostname: string | null; zone: string | null;
  /** admin state of the device, and what the monitor observes */
  status: DeviceStateName | null; observed: ObservedState | null;
  /** the copy counts toward the policy (not on a dead or a lost device) */
  counts: boolean;
  /** the decision that put it there; null: no record (stored before placements were recorded) */
  placed: PlacementRecord | null;
}
export interface FileRow { fid: number; domain: string; class: string; key: string; length: number; devcount: number }
export interface Replies {
  create_domain: { domain: string };
  delete_domain: { domain: string };
  get_domains: { domains: DomainInfo[] };
  update_domain: DomainOptions & { domain: string };
  create_class: { domain: string; class: string; mindevcount: number };
  /** with dry_run=1: nothing changed, `dry_run` says what would */
  update_class: { domain: string; class: string; mindevcount: number; dry_run?: ClassChangeDryRun };
  delete_class: { domain: string; class: string };
  create_host: { hostid: number; hostname: string };
  update_host: { hostid: number; hostname: string };
  delete_host: Record<string, never>;
  get_hosts: { hosts: HostInfo[] };
  create_device: { devid: number; hostid: number };
  get_devices: { devices: DeviceInfo[] };
  set_state: Record<string, never>;
  set_weight: Record<string, never>;
  register_storage: { hostid: number; devids: number[] };
  create_open: { fid: number; devid: number; path: string; dev_count: number; dests: Dest[] };
  create_close: { fid: number; key: string; length: number };
  get_paths: { paths: string[]; fid: number; length: number; /** with meta=1 */ meta?: Record<string, string>; mtime?: number; checksum?: string };
  file_info: { fid: number; domain: string; class: string; key: string; length: number; devcount: number; checksum?: string; devids?: number[]; /** with meta=1 */ meta?: Record<string, string>; /** with meta=1: ms since epoch */ mtime?: number };
  file_debug: {
    fid: number; domain: string | null; key: string | null; class: string | null; length: number | null;
    devids: number[]; devpaths: Record<string, string>; checksum: string;
    /** the open upload of this fid, if any */
    tempfile: { domain: string; key: string; class: string; devids: number[]; expires: string } | null;
  };
  explain: {
    fid: number; domain: string; key: string; class: string; length: number;
    replpolicy: string; mindevcount: number; /** copies the policy wants */ wanted: number;
    /** meets: the policy holds; surplus: holds with a copy to spare (the replicator drops it); below: copies missing; waiting: below, nothing can be done now; no_copy: no copy on a live device */
    policy_state: "meets" | "surplus" | "below" | "waiting" | "no_copy";
    policy_detail: string;
    copies: ExplainCopy[];
    /** the per-fid record, oldest first: at most one entry per device (copies forgotten included) */
    history: (PlacementRecord & { devid: number })[];
    /** what would change where the copies are (device losses, class changes, pending work) */
    would_change: string[];
  };
  delete: Record<string, never>;
  rename: Record<string, never>;
  updateclass: Record<string, never>;
  /** with details=1: `files` instead of `keys` (empty), and `truncated` when the reply's size cut the page short */
  list_keys: { keys: string[]; key_count: number; next_after: string; files?: ListedFile[]; truncated?: boolean };
  list_fids: { fids: FileRow[]; fid_count: number };
  noop: Record<string, never>;
  sleep: Record<string, never>;
  /** the request's arguments */
  clear_cache: Record<string, string | number | boolean>;
  replicate_now: { count: number };
  server_setting: { key: string; value: string };
  server_settings: { settings: Record<string, string> };
  set_server_setting: Record<string, never>;
  stats: {
    domains: number; classes: number; hosts: number; devices: number; files: number;
    replicate_queue: number; delete_queue: number; open_uploads: number; failed_jobs: number;
    /** dead devices whose files are still being re-replicated, and how many files remain */
    recovering_devices: number; recovery_remaining: number;
  };
  failed_jobs: { jobs: { kind: string; fid: number; error: string; at: string; deliveries: number }[] };
  fsck_start: Record<string, never>;
  fsck_stop: Record<string, never>;
  fsck_reset: Record<string, never>;
  fsck_clearlog: { deleted: number };
  fsck_getlog: { rows: FsckLogRow[]; row_count: number };
  fsck_status: {
    running: boolean; host: string | null; max_fid_checked: number; policy_only: boolean; end_fid: number;
    /** unix seconds; null when never set */
    start_time: number | null; stop_time: number | null; current_time: number; max_logid: number;
    counts: Partial<Record<FsckEvcode, number>>;
    /** mogile extras: scope, fids checked this run, fids per second, files left to check (null until known) */
    domain: string | null; class: string | null; checked: number; rate: number; remaining: number | null;
  };
  rebalance_set_policy: Record<string, never>;
  /** the plan, computed now without moving anything: source and destination devices, files and bytes to move */
  rebalance_test: { sdevs: number[]; ddevs: number[]; files: number; bytes: number };
  rebalance_start: { state: string };
  rebalance_stop: Record<string, never>;
  rebalance_status: RebalanceStatusReply;
  rebalance_reset: Record<string, never>;
  /** the secret is returned here once and never again */
  key_add: KeyInfo & { secret: string };
  key_list: { keys: KeyInfo[] };
  key_revoke: KeyInfo;
  /** `verifier`: HMAC of `<id>:<secret>` under a key derived from the cluster key */
  key_lookup: { id: string; scopes: KeyScope[]; cluster_admin: boolean; revoked: boolean; verifier: string };
  key_secret: { id: string; scopes: KeyScope[]; cluster_admin: boolean; revoked: boolean; secret_sealed: string };
}
export type Reply<C extends Command> = Replies[C];

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
  /** the checksum create_close stored (`ALG:hex`), so the first delivery can verify copies */
  checksum: z.string().nullable().optional(),
  reason: z.string().optional(),
  /** the dead or lost device whose copy this job replaces (reaper recovery) */
  lost: zint(1).optional(),
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
  /** false when the device directory lacks its `.mogile-device` marker (absent: an older agent, mounted) */
  mounted: z.boolean().optional(),
  /** why it is not mounted */
  reason: z.string().optional(),
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

export const StorageFetch = z.object({
  devid: zint(1), fid: zint(1), from: z.string().url(), length: zint(0),
  /** the class hash type: the destination computes the digest while streaming and returns it */
  hashtype: z.string().optional(),
  /** the file's stored checksum (`ALG:hex`): a copy with another digest is refused */
  checksum: z.string().optional(),
  /** store the copy protected (its domain needs signed reads); a protected source copy makes it so too */
  protected: z.boolean().optional(),
});
export type StorageFetch = z.infer<typeof StorageFetch>;

/** `nats kv get mogile-recovery dev.<devid>`: one record per device ever seen dead. */
export const RecoveryStatus = z.object({
  devid: z.number().int(),
  /**
   * waiting: seen dead, held back for a grace period so every actor's device view knows it is
   * dead before a job can be judged against it; requeueing: jobs being queued; done: no file
   * lists the device any more (re-checked now and then)
   */
  phase: z.enum(["waiting", "requeueing", "done"]),
  /** files that listed the device when requeueing began */
  total: z.number().int(),
  /** files still listing the device: counted at the start and end, estimated in between */
  remaining: z.number().int(),
  /** replicate jobs queued for this device so far */
  requeued: z.number().int(),
  /** files whose only copies were on dead devices: no job can restore them (fsck will list them) */
  noOtherCopy: z.number().int(),
  /** fids of the batch being handled: dropped from the device, jobs maybe not yet queued */
  inflight: z.array(z.number().int()).default([]),
  /** ms since epoch */
  startedAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().nullable(),
});
export type RecoveryStatus = z.infer<typeof RecoveryStatus>;
