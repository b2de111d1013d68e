// update_host: change a host's address, ports, status or zone (zone=none clears it); a new address
// may not be another host's (dup).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { devicesChanged, hostByName } from "./util.ts";
import { claimAddress, refuseTakenAddress, releaseAddress } from "./host_address.ts";

export async function updateHost(ctx: QueryContext, a: Parsed<"update_host">): Promise<Reply<"update_host">> {
  const host = await hostByName(ctx, a.host, "host_not_found");
  const set: Record<string, unknown> = {};
  for (const f of ["ip", "port", "getport", "altip", "altmask", "status"] as const) if (a[f] !== undefined) set[f] = a[f] === "" ? null : a[f];
  if (a.zone !== undefined) set.zone = a.zone === "none" ? null : a.zone;
  const ip = a.ip ?? host.ip;
  const port = a.port ?? host.port;
  const moves = ip !== host.ip || port !== host.port;
  if (moves) {
    await refuseTakenAddress(ctx, ip, port, host._id);
    // the address first, then the claim (see host_address.ts); a lost claim puts the old address
    // back, and nothing else was changed
    await ctx.store.hosts.updateOne({ _id: host._id }, { $set: { ip, port } });
    try {
      await claimAddress(ctx, host._id, ip, port);
    } catch (err) {
      await ctx.store.hosts.updateOne({ _id: host._id, ip, port }, { $set: { ip: host.ip, port: host.port } });
      throw err;
    }
    await releaseAddress(ctx, host._id, host.ip, host.port);
  }
  if (Object.keys(set).length) await ctx.store.hosts.updateOne({ _id: host._id }, { $set: set });
  devicesChanged(ctx);
  return { hostid: host._id, hostname: host.hostname };
}
