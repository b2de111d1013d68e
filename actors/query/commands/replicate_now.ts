// replicate_now: re-queue every replicate job that was given up on; answers how many.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

export async function replicateNow(ctx: QueryContext, _a: Parsed<"replicate_now">): Promise<Reply<"replicate_now">> {
  const parked = await ctx.store.deadletters.find({ kind: "replicate" }).toArray();
  let count = 0;
  for (const p of parked) {
    // queue first, then forget the dead letter: a crash in between only repeats the job
    await ctx.enqueueReplicate({ fid: p.fid, reason: "replicate_now" }, `repl-${p.fid}-now-${Date.now()}`);
    await ctx.store.deadletters.deleteOne({ _id: p._id });
    count++;
  }
  if (count) ctx.log.info("replicate_now re-queued jobs", { count });
  return { count };
}
