// Typed SDK methods, one per tracker command; MogileClient supplies `rpc` (NATS request-reply).
import type {
  Command, Request, Reply, DeviceStateName, HostStateName, HashType, KeyScope,
} from "./schemas.ts";

/** Optional class settings for createClass / updateClass. */
export interface ClassOptions {
  /** e.g. `MultipleHosts()` (the default) or `MultipleDevices(3)` */
  replpolicy?: string;
  /** checksum kept for files of this class; `NONE` clears it on update */
  hashtype?: HashType;
}

/** A host's addresses and state (MogileFS create_host / update_host arguments). */
export interface HostOptions {
  ip?: string;
  /** HTTP port of the storage agent */
  port?: number;
  /** a separate port for GETs, when the agent has one */
  getport?: number;
  /** alternate IP, used for clients in `altmask` or with `zone=alt` */
  altip?: string;
  altmask?: string;
  status?: HostStateName;
}

/** Where a new device lives: its host by name or by id. */
export type DeviceHost = { hostname: string; hostid?: undefined } | { hostid: number; hostname?: undefined };

export abstract class TrackerCommands {
  /** Send one tracker command; throws MogileError with the MogileFS code on failure. */
  abstract rpc<C extends Command>(command: C, args: Request<C>, timeoutMs?: number): Promise<Reply<C>>;

  // ---- domains and classes ----
  /** Create a domain (`domain_exists` if taken). */
  createDomain(domain: string) { return this.rpc("create_domain", { domain }); }
  /** Delete an empty domain (`domain_has_files`, `domain_has_classes`, `domain_not_found`). */
  deleteDomain(domain: string) { return this.rpc("delete_domain", { domain }); }
  /** Every domain with its classes (mindevcount, replpolicy, hashtype), the default class included, and its access options. */
  async getDomains() { return (await this.rpc("get_domains", {})).domains; }
  /**
   * Change a domain's access options; those left out stay (`domain_not_found`). `signed_get`: new
   * files are stored protected and get_paths hands out signed, expiring read URLs; `anonymous_read`:
   * the HTTP gateway serves reads without an API key.
   */
  updateDomain(domain: string, opts: { signed_get?: boolean; anonymous_read?: boolean }) {
    return this.rpc("update_domain", { domain, ...opts });
  }
  /** Create a class keeping `mindevcount` copies of each file (`class_exists`, `domain_not_found`). */
  createClass(domain: string, cls: string, mindevcount: number, opts: ClassOptions = {}) {
    return this.rpc("create_class", { domain, class: cls, mindevcount, ...opts });
  }
  /** Change a class; omitted replpolicy/hashtype stay as they are (`class_not_found`). */
  updateClass(domain: string, cls: string, mindevcount: number, opts: ClassOptions = {}) {
    return this.rpc("update_class", { domain, class: cls, mindevcount, ...opts });
  }
  /** Delete a class without files (`class_has_files`, `nodel_default_class`, `class_not_found`). */
  deleteClass(domain: string, cls: string) { return this.rpc("delete_class", { domain, class: cls }); }

  // ---- hosts and devices ----
  /** Register a storage host (`host_exists`); its status defaults to `down`. */
  createHost(host: string, opts: HostOptions & { ip: string; port: number }) {
    return this.rpc("create_host", { host, ...opts });
  }
  /** Change a host's addresses or status (`host_not_found`). */
  updateHost(host: string, changes: HostOptions) { return this.rpc("update_host", { host, ...changes }); }
  /** Delete a host that has no devices (`unknown_host`, `host_not_empty`). */
  deleteHost(host: string) { return this.rpc("delete_host", { host }); }
  /** Every host, or the one with `hostid`. */
  async getHosts(hostid?: number) { return (await this.rpc("get_hosts", { hostid })).hosts; }
  /** Add device `devid` to a host (`existing_devid`, `unknown_host`, `unknown_hostid`); state defaults to `alive`. */
  createDevice(devid: number, where: DeviceHost & { state?: DeviceStateName }) {
    return this.rpc("create_device", { devid, ...where });
  }
  /** Every device with usage and observed state, or the one with `devid`. */
  async getDevices(devid?: number) { return (await this.rpc("get_devices", { devid })).devices; }
  /** Set a device's state; `host` is its host's name (`no_device`, `host_mismatch`, `state_too_high`). */
  setState(host: string, devid: number, state: DeviceStateName) { return this.rpc("set_state", { host, device: devid, state }); }
  /** Set a device's weight for reads and placement (`no_device`, `host_mismatch`). */
  setWeight(host: string, devid: number, weight: number) { return this.rpc("set_weight", { host, device: devid, weight }); }

  // ---- files ----
  /** URLs of a file's copies, best first (`unknown_key`). By default the first is not HEAD-verified. */
  getPaths(domain: string, key: string, opts: { noverify?: boolean; pathcount?: number; zone?: string } = {}) {
    return this.rpc("get_paths", { domain, key, noverify: opts.noverify ?? true, pathcount: opts.pathcount ?? 2, zone: opts.zone });
  }
  /** A file's fid, class, length, copy count and devids (`unknown_key`). */
  fileInfo(domain: string, key: string) { return this.rpc("file_info", { domain, key, devices: true }); }
  /** Everything known about a fid, or a key's fid: locations, checksum, open upload. */
  fileDebug(which: { fid: number } | { domain: string; key: string }) { return this.rpc("file_debug", which); }
  /** Why each copy of a file is where it is, whether it meets its class policy, and what would change it (`unknown_key`). */
  explain(domain: string, key: string) { return this.rpc("explain", { domain, key }); }
  /** Delete a key now; its bytes are removed in the background (`unknown_key`). */
  delete(domain: string, key: string) { return this.rpc("delete", { domain, key }); }
  /** Rename a key (`unknown_key`, `key_exists`). */
  rename(domain: string, from: string, to: string) { return this.rpc("rename", { domain, from_key: from, to_key: to }); }
  /** Move a file to another class; replication follows (`class_not_found`, `invalid_key`). */
  changeClass(domain: string, key: string, cls: string) { return this.rpc("updateclass", { domain, key, class: cls }); }
  /** One page of keys in order (`none_match` when empty; `after_mismatch` when `after` is not under `prefix`). */
  list(domain: string, opts: { prefix?: string; after?: string; limit?: number } = {}) {
    return this.rpc("list_keys", { domain, ...opts });
  }
  /** Files with fid > `from`, at most `count` (≤ 500) of them, in fid order. */
  async listFids(from = 0, count = 100) { return (await this.rpc("list_fids", { from, to: count })).fids; }

  // ---- control ----
  /** Round trip to a tracker; resolves when one answers. */
  noop() { return this.rpc("noop", {}); }
  /** Run every waiting replication now; resolves with how many were pulled forward. */
  async replicateNow() { return (await this.rpc("replicate_now", {})).count; }
  /** One server setting's value ("" when unset). */
  async serverSetting(key: string) { return (await this.rpc("server_setting", { key })).value; }
  /** Every server setting. */
  async serverSettings() { return (await this.rpc("server_settings", {})).settings; }
  /** Set a server setting (`not_writable`, `invalid_format`). */
  setServerSetting(key: string, value: string) { return this.rpc("set_server_setting", { key, value }); }
  /** Cluster counts: domains, classes, hosts, devices, files, queues, open uploads, failed jobs. */
  stats() { return this.rpc("stats", {}); }
  /** Jobs the replicator or deleter gave up on, newest first. */
  async failedJobs(opts: { kind?: "replicate" | "delete"; limit?: number } = {}) { return (await this.rpc("failed_jobs", opts)).jobs; }

  // ---- gateway keys (admin) ----
  /**
   * Create a gateway key with per-domain scopes or cluster-wide admin; the reply carries the secret,
   * shown this once. The HTTP credential is `<id>:<secret>` (`Authorization: Bearer <id>:<secret>`).
   */
  addKey(opts: { name?: string; scopes?: KeyScope[]; clusterAdmin?: boolean }) {
    return this.rpc("key_add", { name: opts.name, scopes: opts.scopes ?? [], cluster_admin: opts.clusterAdmin ?? false });
  }
  /** Keys (never their secrets), optionally only those scoped to `domain`; revoked ones with `includeRevoked`. */
  async listKeys(opts: { domain?: string; includeRevoked?: boolean } = {}) {
    return (await this.rpc("key_list", { domain: opts.domain, include_revoked: opts.includeRevoked ?? false })).keys;
  }
  /** Revoke a key for good; gateways refuse it within seconds (`unknown_access_key`). */
  revokeKey(id: string) { return this.rpc("key_revoke", { id }); }
}
