// set_weight: a device's share of new files (relative to its free space).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { devicesChanged, hostByName } from "./util.ts";

export async function setWeight(ctx: QueryContext, a: Parsed<"set_weight">): Promise<Reply<"set_weight">> {
  const dev = await ctx.store.devices.findOne({ _id: a.device });
  if (!dev) throw new MogileError("no_device", `device ${a.device} not found`);
  const host = await hostByName(ctx, a.host, "host_mismatch");
  if (dev.hostid !== host._id) throw new MogileError("host_mismatch");
  await ctx.store.devices.updateOne({ _id: dev._id }, { $set: { weight: a.weight } });
  devicesChanged(ctx);
  return {};
}
