// stats: cluster counters for operators (metadata counts, job queues, open uploads, failures).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { streams } from "../../../protocol/subjects.ts";

export async function stats(ctx: QueryContext, _a: Parsed<"stats">): Promise<Reply<"stats">> {
  const jsm = await jetstreamManager(ctx.nc);
  const pending = async (stream: string) => (await jsm.streams.info(stream).catch(() => null))?.state.messages ?? 0;
  const [domains, classes, hosts, devices, files, replicate_queue, delete_queue, open_uploads, failed_jobs] = await Promise.all([
    ctx.store.domains.countDocuments(),
    ctx.store.classes.countDocuments(),
    ctx.store.hosts.countDocuments(),
    ctx.store.devices.countDocuments(),
    ctx.store.files.countDocuments(),
    pending(streams.replicate),
    pending(streams.delete),
    ctx.uploads.openFids().then((f) => f.length),
    ctx.store.deadletters.countDocuments(),
  ]);
  return { domains, classes, hosts, devices, files, replicate_queue, delete_queue, open_uploads, failed_jobs };
}
