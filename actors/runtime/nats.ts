// NATS connection, and the JetStream streams and KV buckets every actor expects (created idempotently).
import "../../protocol/nats-patch.ts";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type StreamConfig } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { streams, subjects, buckets } from "../../protocol/subjects.ts";
import { findCredentials, natsAuthOptions, explainConnectError, type CredentialOptions } from "../../protocol/credentials.ts";
import type { Logger } from "./log.ts";

/**
 * Connect as this process's NATS user: `creds` when given (the launcher's own connections), else
 * MOGILE_NATS_NKEY / MOGILE_NATS_USER (the launcher sets them per actor), else the seed of
 * `defaultUser` (an actor's role) in a local cluster's data dir.
 */
export async function connectNats(servers: string, name: string, log: Logger, creds: CredentialOptions = {}, env: NodeJS.ProcessEnv = process.env, defaultUser = "operator"): Promise<NatsConnection> {
  const found = findCredentials(creds, defaultUser, env);
  const nc = await connect({
    ...natsAuthOptions(found, env),
    servers: servers.split(","),
    // a machine's actors use its own NATS node first (listed first): a machine cut off from the
    // others then takes its own actors with it, instead of leaving the majority's requests routed
    // to actors that cannot answer
    noRandomize: env.MOGILE_NATS_LOCAL_FIRST === "1",
    // a server gone silent (a partition: no FIN, no RST) is noticed in ~15 s, not minutes
    pingInterval: 5_000,
    maxPingOut: 3,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    timeout: 5_000,
    // async stack traces cost a new Error (and its stack capture) per request: ~0.3 ms of CPU each
    noAsyncTraces: true,
  }).catch((err) => { throw explainConnectError(err, servers, found); });
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect") log.warn(`nats ${s.type}`, { server: s.server });
    }
  })().catch(() => {});
  return nc;
}

/** upload records vanish after this long even if never closed or reaped */
export const UPLOAD_RECORD_TTL_MS = 24 * 3600_000;
/** The lease bucket's max_age, fixed when the bucket is first created (the first creator wins). */
export const LEASE_TTL_MS = Number(process.env.MOGILE_LEASE_TTL_MS ?? 10_000);
export const replicas = () => Number(process.env.MOGILE_JS_REPLICAS ?? 1);

const streamConfigs = (): (Partial<StreamConfig> & { name: string })[] => [
  {
    // heartbeats: the last few per device, short-lived; operators `nats sub 'mogile.hb.>'`
    name: streams.heartbeats,
    subjects: [subjects.heartbeatAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.Memory,
    max_age: 60_000_000_000, // 60 s in ns
    max_msgs_per_subject: 5,
    discard: DiscardPolicy.Old,
    num_replicas: replicas(),
  },
  {
    name: streams.replicate,
    subjects: [subjects.replicateJob],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 120_000_000_000,
    num_replicas: replicas(),
  },
  {
    name: streams.delete,
    subjects: [subjects.deleteJob],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 120_000_000_000,
    num_replicas: replicas(),
  },
];

/**
 * Create (or leave as is) every stream and KV bucket. The launcher calls it as the operator user;
 * actors call it too, and then only look (their users may not create streams).
 */
export async function ensureJetStream(nc: NatsConnection): Promise<{ devstate: KV; uploads: KV }> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs()) {
    try {
      await jsm.streams.info(cfg.name!);
    } catch {
      try {
        await jsm.streams.add(cfg);
      } catch (err) {
        // another actor created it between our info and add
        await jsm.streams.info(cfg.name!).catch(() => { throw err; });
      }
    }
  }
  const kvm = new Kvm(nc);
  const devstate = await kvm.create(buckets.deviceState, { history: 1, replicas: replicas() });
  // upload records outlive any sane upload TTL (the reaper acts long before they age out); the
  // purge marker each create_close leaves is dropped after a minute, so the bucket holds only
  // open uploads, not the day's traffic
  const uploads = await kvm.create(buckets.uploads, { history: 1, replicas: replicas(), ttl: UPLOAD_RECORD_TTL_MS, markerTTL: 60_000 });
  await kvm.create(buckets.counters, { history: 1, replicas: replicas() });
  await kvm.create(buckets.leases, { history: 1, ttl: LEASE_TTL_MS, replicas: replicas() });
  await kvm.create(buckets.recovery, { history: 1, replicas: replicas() });
  return { devstate, uploads };
}
