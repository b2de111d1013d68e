// The dispatch map: command name → handler. Each handler lives in its own file.
import type { QueryContext } from "../context.ts";
import type { Command, Parsed, Reply } from "../../../protocol/schemas.ts";
import { createDomain } from "./create_domain.ts";
import { deleteDomain } from "./delete_domain.ts";
import { getDomains } from "./get_domains.ts";
import { updateDomain } from "./update_domain.ts";
import { createClass } from "./create_class.ts";
import { updateClass } from "./update_class.ts";
import { deleteClass } from "./delete_class.ts";
import { createHost } from "./create_host.ts";
import { updateHost } from "./update_host.ts";
import { deleteHost } from "./delete_host.ts";
import { getHosts } from "./get_hosts.ts";
import { createDevice } from "./create_device.ts";
import { getDevices } from "./get_devices.ts";
import { setState } from "./set_state.ts";
import { setWeight } from "./set_weight.ts";
import { registerStorage } from "./register_storage.ts";
import { createOpen } from "./create_open.ts";
import { createClose } from "./create_close.ts";
import { getPaths } from "./get_paths.ts";
import { fileInfo } from "./file_info.ts";
import { fileDebug } from "./file_debug.ts";
import { explain } from "./explain.ts";
import { deleteFile } from "./delete.ts";
import { rename } from "./rename.ts";
import { updateFileClass } from "./updateclass.ts";
import { listKeys } from "./list_keys.ts";
import { listFids } from "./list_fids.ts";
import { replicateNow } from "./replicate_now.ts";
import { sleep } from "./sleep.ts";
import { clearCache } from "./clear_cache.ts";
import { serverSetting } from "./server_setting.ts";
import { serverSettings } from "./server_settings.ts";
import { setServerSetting } from "./set_server_setting.ts";
import { stats } from "./stats.ts";
import { failedJobs } from "./failed_jobs.ts";
import { fsckStart } from "./fsck_start.ts";
import { fsckStop } from "./fsck_stop.ts";
import { fsckReset } from "./fsck_reset.ts";
import { fsckClearlog } from "./fsck_clearlog.ts";
import { fsckGetlog } from "./fsck_getlog.ts";
import { fsckStatus } from "./fsck_status.ts";
import { rebalanceSetPolicy } from "./rebalance_set_policy.ts";
import { rebalanceTest } from "./rebalance_test.ts";
import { rebalanceStart } from "./rebalance_start.ts";
import { rebalanceStop } from "./rebalance_stop.ts";
import { rebalanceStatus } from "./rebalance_status.ts";
import { rebalanceReset } from "./rebalance_reset.ts";
import { keyAdd } from "./key_add.ts";
import { keyList } from "./key_list.ts";
import { keyRevoke } from "./key_revoke.ts";
import { keyLookup, keySecret } from "./key_lookup.ts";

type Handlers = { [C in Command]: (ctx: QueryContext, a: Parsed<C>) => Promise<Reply<C>> };

export const handlers: Handlers = {
  create_domain: createDomain,
  delete_domain: deleteDomain,
  get_domains: getDomains,
  update_domain: updateDomain,
  create_class: createClass,
  update_class: updateClass,
  delete_class: deleteClass,
  create_host: createHost,
  update_host: updateHost,
  delete_host: deleteHost,
  get_hosts: getHosts,
  create_device: createDevice,
  get_devices: getDevices,
  set_state: setState,
  set_weight: setWeight,
  register_storage: registerStorage,
  create_open: createOpen,
  create_close: createClose,
  get_paths: getPaths,
  file_info: fileInfo,
  file_debug: fileDebug,
  explain,
  delete: deleteFile,
  rename,
  updateclass: updateFileClass,
  list_keys: listKeys,
  list_fids: listFids,
  noop: async () => ({}),
  sleep,
  clear_cache: clearCache,
  replicate_now: replicateNow,
  server_setting: serverSetting,
  server_settings: serverSettings,
  set_server_setting: setServerSetting,
  stats,
  failed_jobs: failedJobs,
  fsck_start: fsckStart,
  fsck_stop: fsckStop,
  fsck_reset: fsckReset,
  fsck_clearlog: fsckClearlog,
  fsck_getlog: fsckGetlog,
  fsck_status: fsckStatus,
  rebalance_set_policy: rebalanceSetPolicy,
  rebalance_test: rebalanceTest,
  rebalance_start: rebalanceStart,
  rebalance_stop: rebalanceStop,
  rebalance_status: rebalanceStatus,
  rebalance_reset: rebalanceReset,
  key_add: keyAdd,
  key_list: keyList,
  key_revoke: keyRevoke,
  key_lookup: keyLookup,
  key_secret: keySecret,
};
