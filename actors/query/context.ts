// What every query command handler gets: the store, device view, caches and publishers.
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import type { DeleteJob, ReplicateJob } from "../../protocol/schemas.ts";
import { MogileError } from "../../protocol/errors.ts";
import { fileId, type Store, type ClassDoc, type DomainDoc } from "../runtime/mongo.ts";
import { ClassCache, classNameOf } from "../runtime/domain/classes.ts";
import { DomainCache } from "../runtime/domain/domains.ts";
import type { Counters, FidAllocator } from "../runtime/counters.ts";
import type { DeviceView } from "../runtime/devices.ts";
import type { Logger } from "../runtime/log.ts";
import type { PathCache } from "./cache.ts";
import type { Uploads } from "../runtime/uploads.ts";

export interface QueryContext {
  store: Store;
  devices: DeviceView;
  cache: PathCache;
  fids: FidAllocator;
  counters: Counters;
  nc: NatsConnection;
  js: JetStreamClient;
  log: Logger;
  /** seconds an opened upload may stay unclosed before the reaper removes it */
  uploadTtlSec: number;
  /** signed storage URLs: the cluster key, the size cap of a PUT URL, the lifetime of GET URLs */
  urls: { key: Buffer; maxFileBytes: number; getTtlSec: number };
  names: NameCache;
  uploads: Uploads;
  enqueueReplicate(job: ReplicateJob, msgID: string): Promise<void>;
  enqueueDelete(job: DeleteJob): Promise<void>;
  fileChanged(domain: string, key: string, fid: number): void;
  /** aborted when the actor starts draining: waits that serve no data (sleep) end at once */
  stopping?: AbortSignal;
}

/**
 * Cache of domains and classes. Domain rows (with their access options) are cached positive-only
 * for a few seconds (a miss always asks the database); class rows, including the implicit default
 * class, through the shared class cache. Changes elsewhere drop both (`names.changed`).
 */
export class NameCache {
  private domains: DomainCache;
  private classes: ClassCache;
  constructor(store: Store, ttlMs = 5_000) {
    this.classes = new ClassCache(store, ttlMs);
    this.domains = new DomainCache(store, ttlMs);
  }

  async requireDomain(domain: string): Promise<void> {
    await this.domain(domain);
  }

  /** The domain's row (its access options); unreg_domain when it does not exist. */
  async domain(domain: string): Promise<DomainDoc> {
    const row = await this.domains.find(domain);
    if (!row) throw new MogileError("unreg_domain", `domain ${domain} is not registered`);
    return row;
  }

  /** The class row; `default` (or no class) is implicit with mindevcount 2 unless a row overrides it. */
  async getClass(domain: string, cls: string | undefined): Promise<ClassDoc> {
    const row = await this.classes.find(domain, cls);
    if (!row) throw new MogileError("unreg_class", `class ${classNameOf(cls)} is not registered in domain ${domain}`);
    return row;
  }

  forget(): void { this.domains.forget(); this.classes.forget(); }
}

export function makeEnqueuers(js: JetStreamClient, nc: NatsConnection, cache: PathCache) {
  return {
    async enqueueReplicate(job: ReplicateJob, msgID: string) {
      await js.publish(subjects.replicateJob, JSON.stringify(job), { msgID, retries: 10 });
    },
    async enqueueDelete(job: DeleteJob) {
      await js.publish(subjects.deleteJob, JSON.stringify(job), { msgID: `del-${job.fid}-${job.reason ?? "delete"}`, retries: 10 });
    },
    fileChanged(domain: string, key: string, fid: number) {
      cache.evict(fileId(domain, key));
      nc.publish(subjects.fileChanged, JSON.stringify({ domain, key, fid }));
    },
  };
}
