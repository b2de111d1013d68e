// zod schemas for every command's reply, the runtime twin of the `Replies` types in schemas.ts: the
// HTTP facade's OpenAPI document is generated from them, and a compile-time check below fails when
// one of them and its type disagree (or a command has no reply schema), so the two cannot drift.
import { z } from "zod";
import {
  DEVICE_STATES, FSCK_EVCODES, HOST_STATES, KeyScopeSchema, OBSERVED_STATES,
  type Command, type Replies,
} from "./schemas.ts";

const int = z.number().int();
const ids = z.array(int);
/** replies without fields: `{}` */
export const EmptyReply = z.object({}).describe("no fields: the command succeeded");

// ---- shared shapes ----
export const ClassInfo = z.object({
  class: z.string(),
  mindevcount: int,
  replpolicy: z.string(),
  hashtype: z.string(),
  durable_copies: int.optional().describe("only when above 1"),
  async_copies: z.boolean().optional().describe("only when set"),
}).describe("a class of a domain: how many copies its files get and where");
export const DomainOptions = z.object({
  signed_get: z.boolean().describe("reads need signed URLs (false when never set)"),
  anonymous_read: z.boolean().describe("the HTTP gateway serves reads without a key (false when never set)"),
});
export const DomainInfo = DomainOptions.extend({ domain: z.string(), classes: z.array(ClassInfo) })
  .describe("a domain with its classes (the default class included) and access options");
export const HostInfo = z.object({
  hostid: int, hostname: z.string(), hostip: z.string(), http_port: int, http_get_port: int.nullable(),
  altip: z.string().nullable(), altmask: z.string().nullable(), status: z.enum(HOST_STATES),
  zone: z.string().optional().describe("present when the host has a zone"),
}).describe("a storage host");
export const DeviceInfo = z.object({
  devid: int, hostid: int, status: z.enum(DEVICE_STATES), weight: z.number(),
  mb_total: z.number().nullable(), mb_used: z.number().nullable(), mb_free: z.number().nullable(),
  observed_state: z.enum(OBSERVED_STATES).nullable(),
  utilization: z.number().nullable().describe("percent used (from heartbeats), null when unknown"),
}).describe("a device with its admin state, weight, usage and observed state");
export const Dest = z.object({ devid: int, path: z.string() });
export const ListedFile = z.object({
  key: z.string(), fid: int, length: int,
  mtime: z.number().describe("creation time, ms since epoch"),
  etag: z.string().optional(), checksum: z.string().optional(),
}).describe("a key in a detailed listing");
export const FileRow = z.object({ fid: int, domain: z.string(), class: z.string(), key: z.string(), length: int, devcount: int });
export const FsckLogRow = z.object({ logid: int, utime: z.number(), fid: int, evcode: z.enum(FSCK_EVCODES), devid: int.optional() });
export const KeyInfo = z.object({
  id: z.string(), name: z.string(), scopes: z.array(KeyScopeSchema), cluster_admin: z.boolean(), revoked: z.boolean(),
  created: z.string().describe("ISO time"), revoked_at: z.string().optional().describe("ISO time"),
}).describe("a gateway key as listed: never its secret");
const meta = z.record(z.string(), z.string());

// ---- one per command ----
export const DomainReply = z.object({ domain: z.string() });
export const GetDomainsReply = z.object({ domains: z.array(DomainInfo) });
export const UpdateDomainReply = DomainOptions.extend({ domain: z.string() });
export const ClassReply = z.object({ domain: z.string(), class: z.string(), mindevcount: int });
export const ClassChangeDryRun = z.object({
  from_mindevcount: int, from_replpolicy: z.string(), replpolicy: z.string(),
  files: int.describe("files looked at"), bytes: int,
  gain_files: int.describe("files that would end with more copies"), gain_copies: int, gain_bytes: int,
  lose_files: int.describe("files that would end with fewer copies"), lose_copies: int, lose_bytes: int,
  move_files: int.describe("files that would keep their count but have a copy moved"), move_copies: int, move_bytes: int,
  unchanged_files: int,
  below_now_files: int.describe("files below the current rule already (replication pending)"),
  unmet_files: int.describe("files the devices there are now could not bring to the new rule"),
  complete: z.boolean().describe("false when the scan stopped at a limit: the counts are for the files scanned"),
  elapsed_ms: z.number(),
}).describe("update_class dry_run=1: what the change would do to the class's files (bytes count every copy)");
export const UpdateClassReply = ClassReply.extend({ dry_run: ClassChangeDryRun.optional().describe("with dry_run=1: nothing changed") });
export const DeleteClassReply = z.object({ domain: z.string(), class: z.string() });
export const HostReply = z.object({ hostid: int, hostname: z.string() });
export const GetHostsReply = z.object({ hosts: z.array(HostInfo) });
export const CreateDeviceReply = z.object({ devid: int, hostid: int });
export const GetDevicesReply = z.object({ devices: z.array(DeviceInfo) });
export const RegisterStorageReply = z.object({ hostid: int, devids: ids });
export const CreateOpenReply = z.object({
  fid: int, devid: int, path: z.string().describe("the URL to PUT the bytes to"), dev_count: int, dests: z.array(Dest),
});
export const CreateCloseReply = z.object({ fid: int, key: z.string(), length: int }).describe("the stored file");
export const GetPathsReply = z.object({
  paths: z.array(z.string()).describe("URLs of the file's copies, best first"),
  fid: int, length: int,
  meta: meta.optional().describe("with meta=1"), mtime: z.number().optional().describe("with meta=1: ms since epoch"), checksum: z.string().optional(),
});
export const FileInfoReply = z.object({
  fid: int, domain: z.string(), class: z.string(), key: z.string(), length: int, devcount: int,
  checksum: z.string().optional(), devids: ids.optional(),
  meta: meta.optional().describe("with meta=1"), mtime: z.number().optional().describe("with meta=1: ms since epoch"),
});
export const FileDebugReply = z.object({
  fid: int, domain: z.string().nullable(), key: z.string().nullable(), class: z.string().nullable(), length: int.nullable(),
  devids: ids, devpaths: z.record(z.string(), z.string()), checksum: z.string(),
  tempfile: z.object({ domain: z.string(), key: z.string(), class: z.string(), devids: ids, expires: z.string() }).nullable()
    .describe("the open upload of this fid, if any"),
});
const PLACEMENT_CAUSES = ["create_open", "chain", "replicate", "restore", "drain", "rebalance", "fsck", "surplus", "dead"] as const;
export const PlacementRecord = z.object({
  op: z.enum(["add", "drop"]).describe("add: the copy was made or recorded here; drop: it was forgotten here"),
  cause: z.enum(PLACEMENT_CAUSES), why: z.string(),
  at: z.number().describe("ms since epoch"),
  dev: int.optional().describe("the other device: moved from / to, or the dead or lost device a copy replaced"),
}).describe("how a copy came to be where it is");
export const ExplainCopy = z.object({
  devid: int, hostid: int.nullable(), hostname: z.string().nullable(), zone: z.string().nullable(),
  status: z.enum(DEVICE_STATES).nullable(), observed: z.enum(OBSERVED_STATES).nullable(),
  counts: z.boolean().describe("the copy counts toward the policy (not on a dead or a lost device)"),
  placed: PlacementRecord.nullable().describe("the decision that put it there; null: no record"),
});
export const ExplainReply = z.object({
  fid: int, domain: z.string(), key: z.string(), class: z.string(), length: int,
  replpolicy: z.string(), mindevcount: int, wanted: int.describe("copies the policy wants"),
  policy_state: z.enum(["meets", "surplus", "below", "waiting", "no_copy"]),
  policy_detail: z.string(),
  copies: z.array(ExplainCopy),
  history: z.array(PlacementRecord.extend({ devid: int })).describe("the per-fid record, oldest first"),
  would_change: z.array(z.string()).describe("what would change where the copies are"),
}).describe("why each copy of a file is where it is, and whether the file meets its policy");
export const ListKeysReply = z.object({
  keys: z.array(z.string()), key_count: int, next_after: z.string(),
  files: z.array(ListedFile).optional().describe("with details=1 (then `keys` is empty)"),
  truncated: z.boolean().optional().describe("the reply's size cut the page short"),
});
export const ListFidsReply = z.object({ fids: z.array(FileRow), fid_count: int });
export const ReplicateNowReply = z.object({ count: int });
export const ServerSettingReply = z.object({ key: z.string(), value: z.string() });
export const ServerSettingsReply = z.object({ settings: z.record(z.string(), z.string()) });
export const StatsReply = z.object({
  domains: int, classes: int, hosts: int, devices: int, files: int,
  replicate_queue: int, delete_queue: int, open_uploads: int, failed_jobs: int,
  recovering_devices: int.describe("dead devices whose files are still being re-replicated"),
  recovery_remaining: int.describe("files those devices still hold"),
}).describe("cluster counts");
export const FailedJobsReply = z.object({
  jobs: z.array(z.object({ kind: z.string(), fid: int, error: z.string(), at: z.string(), deliveries: int })),
}).describe("jobs the replicator or deleter gave up on, newest first");
export const FsckClearlogReply = z.object({ deleted: int });
export const FsckGetlogReply = z.object({ rows: z.array(FsckLogRow), row_count: int });
export const FsckStatusReply = z.object({
  running: z.boolean(), host: z.string().nullable(), max_fid_checked: int, policy_only: z.boolean(), end_fid: int,
  start_time: z.number().nullable().describe("unix seconds"), stop_time: z.number().nullable().describe("unix seconds"),
  current_time: z.number(), max_logid: int,
  counts: z.partialRecord(z.enum(FSCK_EVCODES), int),
  domain: z.string().nullable(), class: z.string().nullable(), checked: int, rate: z.number(), remaining: int.nullable(),
});
export const RebalanceTestReply = z.object({ sdevs: ids, ddevs: ids, files: int, bytes: int })
  .describe("the plan, computed now without moving anything");
export const RebalanceStartReply = z.object({ state: z.string() });
export const RebalanceStatusReply = z.object({
  state: z.string().describe("the MogileFS state string (key=value pairs)"), running: z.boolean(), policy: z.string(),
  sdevs: ids, ddevs: ids, files_moved: int, bytes_moved: int, failed: int,
  time_started: z.number().nullable(), time_stopped: z.number().nullable(), time_finished: z.number().nullable(),
});
export const KeyAddReply = KeyInfo.extend({ secret: z.string().describe("returned here once and never again") });
export const KeyListReply = z.object({ keys: z.array(KeyInfo) });
const keyRecord = { id: z.string(), scopes: z.array(KeyScopeSchema), cluster_admin: z.boolean(), revoked: z.boolean() };
export const KeyLookupReply = z.object({ ...keyRecord, verifier: z.string() });
export const KeySecretReply = z.object({ ...keyRecord, secret_sealed: z.string() });

/** The reply schema of every command: a command missing here is a compile error. */
export const replies = {
  create_domain: DomainReply,
  delete_domain: DomainReply,
  get_domains: GetDomainsReply,
  update_domain: UpdateDomainReply,
  create_class: ClassReply,
  update_class: UpdateClassReply,
  delete_class: DeleteClassReply,
  create_host: HostReply,
  update_host: HostReply,
  delete_host: EmptyReply,
  get_hosts: GetHostsReply,
  create_device: CreateDeviceReply,
  get_devices: GetDevicesReply,
  set_state: EmptyReply,
  set_weight: EmptyReply,
  register_storage: RegisterStorageReply,
  create_open: CreateOpenReply,
  create_close: CreateCloseReply,
  get_paths: GetPathsReply,
  file_info: FileInfoReply,
  file_debug: FileDebugReply,
  explain: ExplainReply,
  delete: EmptyReply,
  rename: EmptyReply,
  updateclass: EmptyReply,
  list_keys: ListKeysReply,
  list_fids: ListFidsReply,
  noop: EmptyReply,
  sleep: EmptyReply,
  clear_cache: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).describe("the request's arguments, echoed"),
  replicate_now: ReplicateNowReply,
  server_setting: ServerSettingReply,
  server_settings: ServerSettingsReply,
  set_server_setting: EmptyReply,
  stats: StatsReply,
  failed_jobs: FailedJobsReply,
  fsck_start: EmptyReply,
  fsck_stop: EmptyReply,
  fsck_reset: EmptyReply,
  fsck_clearlog: FsckClearlogReply,
  fsck_getlog: FsckGetlogReply,
  fsck_status: FsckStatusReply,
  rebalance_set_policy: EmptyReply,
  rebalance_test: RebalanceTestReply,
  rebalance_start: RebalanceStartReply,
  rebalance_stop: EmptyReply,
  rebalance_status: RebalanceStatusReply,
  rebalance_reset: EmptyReply,
  key_add: KeyAddReply,
  key_list: KeyListReply,
  key_revoke: KeyInfo,
  key_lookup: KeyLookupReply,
  key_secret: KeySecretReply,
} satisfies { [C in Command]: z.ZodType };

// Each schema's output type and the command's `Replies` type must accept each other: a field added,
// dropped or retyped on one side only names the command in a compile error here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Drifted = { [C in Command]: Same<z.output<(typeof replies)[C]>, Replies[C]> extends true ? never : C }[Command];
export const repliesMatchTypes: [Drifted] extends [never] ? true : { drifted: Drifted } = true;
