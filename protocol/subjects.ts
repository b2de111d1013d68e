// Every NATS subject, stream, consumer and KV bucket name used by mogile, declared once.
//
// Grammar:
//   mogile.rpc.<command>               request-reply, served by the `query` actors (queue group)
//   mogile.hb.<hostid>.<devid>         device heartbeats (JetStream stream MOGILE_HB)
//   mogile.job.replicate               replicate jobs (work-queue stream MOGILE_REPLICATE)
//   mogile.job.delete                  delete jobs (work-queue stream MOGILE_DELETE)
//   mogile.storage.<hostid>.<verb>     requests to one storage agent (e.g. `fetch`)
//   mogile.event.<kind>                fire-and-forget events (file changes, device changes)
//   mogile.metrics.scrape              every actor process answers with its Prometheus metrics (many replies)

export const SERVICE_NAME = "mogile-tracker";
export const SERVICE_QUEUE = "mogile-query";

export const subjects = {
  rpcPrefix: "mogile.rpc",
  rpc: (command: string) => `mogile.rpc.${command}`,
  heartbeat: (hostid: number, devid: number) => `mogile.hb.${hostid}.${devid}`,
  heartbeatAll: "mogile.hb.>",
  replicateJob: "mogile.job.replicate",
  deleteJob: "mogile.job.delete",
  storage: (hostid: number, verb: string) => `mogile.storage.${hostid}.${verb}`,
  /** a file's key→fid mapping or location set changed: query actors evict caches */
  fileChanged: "mogile.event.file.changed",
  /** host/device rows changed in the database: query actors reload their device table */
  devicesChanged: "mogile.event.device.changed",
  /** domains or classes changed: query actors drop their name caches */
  namesChanged: "mogile.event.names.changed",
  /** fsck or rebalance state changed (query handlers): the fsck actor wakes up */
  tasksChanged: "mogile.event.tasks.changed",
  /** a gateway key was revoked (query handlers): gateways drop it from their caches at once */
  keysChanged: "mogile.event.keys.changed",
  /** observed device state changed (monitor) */
  deviceState: "mogile.event.device.state",
  /** every event above (the legacy tracker's get_paths cache drops what each may have made stale) */
  eventAll: "mogile.event.>",
  /** a request every actor process answers (no queue group): its identity, /metrics URL and metrics text */
  metricsScrape: "mogile.metrics.scrape",
} as const;

export const streams = {
  heartbeats: "MOGILE_HB",
  replicate: "MOGILE_REPLICATE",
  delete: "MOGILE_DELETE",
} as const;

export const consumers = {
  replicator: "replicator",
  deleter: "deleter",
} as const;

export const buckets = {
  /** observed device state, key `dev.<devid>`, written by the monitor */
  deviceState: "mogile-devstate",
  /** open uploads (create_open → create_close), key `fid.<fid>`; the reaper expires them */
  uploads: "mogile-uploads",
  /** counters that must never repeat (fid blocks, host ids): compare-and-set */
  counters: "mogile-counters",
  /** leader leases, key = role; the bucket's max_age expires a dead holder's lease */
  leases: "mogile-leases",
  /** dead-device recovery progress, key `dev.<devid>`, written by the reaper leader */
  recovery: "mogile-recovery",
} as const;
