// The dispatch map: command name → handler. Each handler lives in its own file.
import type { QueryContext } from "../context.ts";
import type { Command, Parsed, Reply } from "../../../protocol/schemas.ts";
import { createDomain } from "./create_domain.ts";
import { createClass } from "./create_class.ts";
import { getDomains } from "./get_domains.ts";
import { createHost, createDevice, registerStorage, getHosts, getDevices } from "./hosts.ts";
import { createOpen } from "./create_open.ts";
import { createClose } from "./create_close.ts";
import { getPaths } from "./get_paths.ts";
import { deleteFile, fileInfo, listKeys } from "./files.ts";
import { failedJobs } from "./failed_jobs.ts";

type Handlers = { [C in Command]: (ctx: QueryContext, a: Parsed<C>) => Promise<Reply<C>> };

export const handlers: Handlers = {
  create_domain: createDomain,
  create_class: createClass,
  get_domains: getDomains,
  create_host: createHost,
  create_device: createDevice,
  register_storage: registerStorage,
  get_hosts: getHosts,
  get_devices: getDevices,
  create_open: createOpen,
  create_close: createClose,
  get_paths: getPaths,
  file_info: fileInfo,
  delete: deleteFile,
  list_keys: listKeys,
  noop: async () => ({}),
  failed_jobs: failedJobs,
};
