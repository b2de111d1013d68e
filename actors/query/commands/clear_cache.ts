// clear_cache (MogileFS): drop what the trackers cache and reload it, answering the request's own
// arguments (MogileFS echoes them). Domains and classes are forgotten and every actor's host and
// device table reloaded; this actor's get_paths cache is emptied (the other actors' entries are
// kept exact by file.changed events, so they need no flush).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { devicesChanged, namesChanged } from "./util.ts";

export async function clearCache(ctx: QueryContext, a: Parsed<"clear_cache">): Promise<Reply<"clear_cache">> {
  namesChanged(ctx);
  devicesChanged(ctx);
  ctx.cache.clear();
  // MogileFS waits for a fresh monitor round before answering: wait for our own table's reload,
  // so a command after this one sees the database as it is now
  await ctx.devices.reload();
  return { ...a };
}
