// update_class dry_run=1: how many of the class's files (and bytes) would gain or lose copies under
// the new mindevcount / replpolicy, with the devices there are now. Nothing is written.
//
// Bounded on big domains: the files are streamed with a cursor (only devids and length) and
// grouped by where their copies are, so memory grows with distinct placements, not files, and the
// policy is simulated once per placement. An aggregation ($group by devids) would do the grouping
// in MongoDB, but FerretDB v1 runs $group in its own process holding every matched document, so
// the cursor is the bounded way on both. The scan stops at a time budget (below the SDK's 10 s
// request timeout) or a placement cap; the reply says `complete: false` and counts what it saw.
import { z } from "zod";
import type { QueryContext } from "../context.ts";
import { DEFAULT_REPL_POLICY, type ClassChangeDryRun, type Parsed } from "../../../protocol/schemas.ts";
import { actorConfig } from "../../runtime/config.ts";
import type { ClassDoc } from "../../runtime/mongo.ts";
import { ruleOf } from "../../runtime/domain/classes.ts";
import { ClassChangeTally } from "../../runtime/domain/class_change.ts";

const Config = z.object({
  /** how long an update_class dry run scans files before it answers with what it saw (ms) */
  MOGILE_DRY_RUN_MS: z.coerce.number().int().positive().default(8_000),
  /** distinct placements (sets of devices) a dry run keeps in memory before it stops scanning */
  MOGILE_DRY_RUN_MAX_PLACEMENTS: z.coerce.number().int().positive().default(100_000),
});
let cfg: Readonly<z.infer<typeof Config>> | null = null;

const BATCH = 1_000;

export async function classChangeDryRun(ctx: QueryContext, a: Parsed<"update_class">, current: ClassDoc): Promise<ClassChangeDryRun> {
  cfg ??= actorConfig(Config);
  const t0 = Date.now();
  const replpolicy = a.replpolicy === undefined ? current.replpolicy : a.replpolicy || DEFAULT_REPL_POLICY;
  const tally = new ClassChangeTally(ctx.devices, ruleOf(current), ruleOf({ ...current, mindevcount: a.mindevcount, replpolicy }));

  const groups = new Map<string, { devids: number[]; files: number; bytes: number }>();
  let complete = true;
  const cursor = ctx.store.files.find({ domain: a.domain, class: current.class }, { projection: { _id: 0, devids: 1, length: 1 }, batchSize: BATCH });
  try {
    for await (const f of cursor) {
      const devids = [...(f.devids ?? [])].sort((x, y) => x - y);
      const key = devids.join(",");
      const g = groups.get(key);
      if (g) { g.files++; g.bytes += f.length ?? 0; }
      else groups.set(key, { devids, files: 1, bytes: f.length ?? 0 });
      if (groups.size >= cfg.MOGILE_DRY_RUN_MAX_PLACEMENTS || Date.now() - t0 >= cfg.MOGILE_DRY_RUN_MS) { complete = false; break; }
    }
  } finally {
    await cursor.close();
  }
  for (const g of groups.values()) tally.add(g.devids, g.files, g.bytes);
  if (!complete) ctx.log.info("update_class dry run stopped at its limit", { domain: a.domain, class: current.class, files: tally.counts.files, placements: groups.size });
  return {
    from_mindevcount: current.mindevcount, from_replpolicy: current.replpolicy, replpolicy,
    ...tally.counts, complete, elapsed_ms: Date.now() - t0,
  };
}
