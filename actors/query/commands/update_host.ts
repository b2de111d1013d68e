// update_host: change a host's address, ports, status or zone (zone=none clears it).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { devicesChanged, hostByName } from "./util.ts";

export async function updateHost(ctx: QueryContext, a: Parsed<"update_host">): Promise<Reply<"update_host">> {
  const host = await hostByName(ctx, a.host, "host_not_found");
  const set: Record<string, unknown> = {};
  for (const f of ["ip", "port", "getport", "altip", "altmask", "status"] as const) if (a[f] !== undefined) set[f] = a[f] === "" ? null : a[f];
  if (a.zone !== undefined) set.zone = a.zone === "none" ? null : a.zone;
  if (Object.keys(set).length) await ctx.store.hosts.updateOne({ _id: host._id }, { $set: set });
  devicesChanged(ctx);
  return { hostid: host._id, hostname: host.hostname };
}
