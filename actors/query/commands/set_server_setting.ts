// set_server_setting: store a writable server setting after checking its format.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { checkSetting } from "./settings.ts";

export async function setServerSetting(ctx: QueryContext, a: Parsed<"set_server_setting">): Promise<Reply<"set_server_setting">> {
  const value = checkSetting(a.key, a.value);
  await ctx.store.settings.updateOne({ _id: a.key }, { $set: { value } }, { upsert: true });
  return {};
}
