// server_setting: one server setting's value (empty when unset).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

export async function serverSetting(ctx: QueryContext, a: Parsed<"server_setting">): Promise<Reply<"server_setting">> {
  const row = await ctx.store.settings.findOne({ _id: a.key });
  return { key: a.key, value: row?.value ?? "" };
}
