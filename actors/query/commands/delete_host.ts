// delete_host: remove a host that has no devices (not even dead ones).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { devicesChanged, hostByName } from "./util.ts";

export async function deleteHost(ctx: QueryContext, a: Parsed<"delete_host">): Promise<Reply<"delete_host">> {
  const host = await hostByName(ctx, a.host, "unknown_host");
  if (await ctx.store.devices.findOne({ hostid: host._id })) throw new MogileError("host_not_empty");
  await ctx.store.hosts.deleteOne({ _id: host._id });
  devicesChanged(ctx);
  return {};
}
