// The deleter actor: removes the bytes of deleted (or discarded, replaced, expired) fids from every
// device that holds them; retries with back-off while a device is unreachable.
import { z } from "zod";
import { streams, consumers } from "../../protocol/subjects.ts";
import { DeleteJob } from "../../protocol/schemas.ts";
import { deleteUrl } from "../../protocol/http.ts";
import { actorConfig } from "../runtime/config.ts";
import type { ActorContext, ActorSpec } from "../runtime/actor.ts";
import type { DeviceView } from "../runtime/devices.ts";
import { startJobActor, retryScheduleEnv, ack, retry, type Outcome } from "../runtime/jobs.ts";
import type { Logger } from "../runtime/log.ts";
import type { Store } from "../runtime/mongo.ts";

const Config = z.object({
  /** retry delays in ms for temporary failures, comma-separated (the last one repeats) */
  MOGILE_DELETER_RETRY_MS: retryScheduleEnv,
  /** delete jobs worked on at once */
  MOGILE_DELETER_CONCURRENCY: z.coerce.number().int().positive().default(32),
  /** deliveries before a job is recorded as failed (a down device can take a while to return) */
  MOGILE_DELETER_MAX_DELIVER: z.coerce.number().int().positive().default(30),
});

/** 2 s, 10 s, 1 min, 5 min, 30 min… (±20%) */
const RETRY_MS = [2_000, 10_000, 60_000, 300_000, 1_800_000];

/**
 * Jobs that remove one copy of a file that lives on (an unrecorded replica, or the old copy of a
 * drain or rebalance move): the copy is kept if it is recorded again by the time we get to it.
 */
const RECHECKED = new Set(["orphan-replica", "drain", "rebalance"]);

export async function removeCopies(devices: DeviceView, store: Store, log: Logger, job: DeleteJob): Promise<Outcome> {
  const pending: string[] = [];
  for (const devid of job.devids) {
    // an unrecorded replica may have been copied again and recorded since: never delete a live copy
    if (RECHECKED.has(job.reason ?? "") && (await store.files.findOne({ fid: job.fid, devids: devid }, { projection: { _id: 1 } }))) continue;
    const row = devices.row(devid);
    if (!row) { log.warn("delete: device unknown; forgetting its copy", { fid: job.fid, devid }); continue; }
    if (row.dev.status === "dead") continue; // its bytes are gone with it
    const url = devices.url(devid, job.fid)!;
    try {
      if (!(await deleteUrl(url))) pending.push(`${url}: refused`);
    } catch (err) {
      pending.push(`${url}: ${(err as Error).message}`);
    }
  }
  return pending.length ? retry(pending.join("; ")) : ack;
}

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  return startJobActor(ctx, {
    stream: streams.delete, consumer: consumers.deleter, kind: "delete",
    concurrency: cfg.MOGILE_DELETER_CONCURRENCY,
    maxDeliver: cfg.MOGILE_DELETER_MAX_DELIVER,
    retryScheduleMs: cfg.MOGILE_DELETER_RETRY_MS ?? RETRY_MS,
    parse: (data) => DeleteJob.parse(JSON.parse(new TextDecoder().decode(data))),
    fid: (j) => j.fid,
    handle: (job, _attempt, devices) => removeCopies(devices, ctx.store!, ctx.log, job),
  });
}

export const spec: ActorSpec = { role: "deleter", mongo: true, start };
