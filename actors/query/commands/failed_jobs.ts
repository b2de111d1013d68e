// failed_jobs (mogile addition): replicate/delete jobs given up on, newest first, for operators.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

export async function failedJobs(ctx: QueryContext, a: Parsed<"failed_jobs">): Promise<Reply<"failed_jobs">> {
  const rows = await ctx.store.deadletters.find(a.kind ? { kind: a.kind } : {}).sort({ at: -1 }).limit(a.limit).toArray();
  return { jobs: rows.map((r) => ({ kind: r.kind, fid: r.fid, error: r.error, at: r.at.toISOString(), deliveries: r.deliveries })) };
}
