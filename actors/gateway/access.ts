// What each tracker command needs over POST /v1/rpc/{command}. Fails closed: a command not listed
// here (a new one) needs a cluster-admin key until it is classified.
import type { Need } from "./auth.ts";

const read: Need = { kind: "domain", access: "read" };
const write: Need = { kind: "domain", access: "write" };
const domainAdmin: Need = { kind: "domain", access: "admin" };
const anyKey: Need = { kind: "key" };
const cluster: Need = { kind: "cluster" };

export const RPC_NEEDS: Readonly<Record<string, Need>> = {
  // files: the domain comes from the arguments
  get_paths: read,
  file_info: read,
  explain: read,
  list_keys: read,
  create_open: write,
  create_close: write,
  delete: write,
  rename: write,
  updateclass: write,
  // a domain's own settings and classes
  create_class: domainAdmin,
  update_class: domainAdmin,
  delete_class: domainAdmin,
  update_domain: domainAdmin,
  // any key: a round trip, and the domains the key has a scope on (the reply is filtered)
  noop: anyKey,
  get_domains: anyKey,
  // cluster-wide: domains themselves, hosts, devices, settings, jobs, fsck, rebalance, keys
  create_domain: cluster,
  delete_domain: cluster,
  create_host: cluster,
  update_host: cluster,
  delete_host: cluster,
  get_hosts: cluster,
  create_device: cluster,
  get_devices: cluster,
  set_state: cluster,
  set_weight: cluster,
  register_storage: cluster,
  // by fid, across domains
  file_debug: cluster,
  list_fids: cluster,
  replicate_now: cluster,
  sleep: cluster,
  clear_cache: cluster,
  server_setting: cluster,
  server_settings: cluster,
  set_server_setting: cluster,
  stats: cluster,
  failed_jobs: cluster,
  fsck_start: cluster,
  fsck_stop: cluster,
  fsck_reset: cluster,
  fsck_clearlog: cluster,
  fsck_getlog: cluster,
  fsck_status: cluster,
  rebalance_set_policy: cluster,
  rebalance_test: cluster,
  rebalance_start: cluster,
  rebalance_stop: cluster,
  rebalance_status: cluster,
  rebalance_reset: cluster,
  key_add: cluster,
  key_list: cluster,
  key_revoke: cluster,
  key_lookup: cluster,
  // refused over HTTP whoever asks (actors/gateway/rpc.ts): sealed secrets are for the s3 actor
  key_secret: cluster,
};

export function rpcNeed(command: string): Need {
  return Object.hasOwn(RPC_NEEDS, command) ? RPC_NEEDS[command] : cluster;
}
