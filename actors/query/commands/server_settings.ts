// server_settings: every server setting (internal fsck_* ones hidden, as in MogileFS).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

export async function serverSettings(ctx: QueryContext, _a: Parsed<"server_settings">): Promise<Reply<"server_settings">> {
  const rows = await ctx.store.settings.find().sort({ _id: 1 }).toArray();
  const settings: Record<string, string> = {};
  for (const r of rows) if (!r._id.startsWith("fsck_") || r._id === "fsck_checksum") settings[r._id] = r.value;
  return { settings };
}
