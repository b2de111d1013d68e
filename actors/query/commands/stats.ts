// stats: cluster counters for operators (metadata counts, job queues, open uploads, failures).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { buckets, streams } from "../../../protocol/subjects.ts";
import { RecoveryStatus } from "../../../protocol/schemas.ts";

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
  const recovery = await recoveryProgress(ctx);
  return { domains, classes, hosts, devices, files, replicate_queue, delete_queue, open_uploads, failed_jobs, ...recovery };
}

/** Dead-device recovery progress, from the reaper leader's `mogile-recovery` records. */
async function recoveryProgress(ctx: QueryContext): Promise<{ recovering_devices: number; recovery_remaining: number }> {
  let recovering_devices = 0;
  let recovery_remaining = 0;
  try {
    const kv = await new Kvm(ctx.nc).open(buckets.recovery);
    for await (const k of await kv.keys("dev.>")) {
      const st = RecoveryStatus.safeParse((await kv.get(k))?.json());
      if (!st.success || st.data.phase === "done") continue;
      recovering_devices++;
      recovery_remaining += st.data.remaining;
    }
  } catch {
    // no reaper has created the bucket yet: nothing is recovering
  }
  return { recovering_devices, recovery_remaining };
}
