// create_device: add a device to a host (by hostid or hostname). Devices are never deleted.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { devicesChanged, unlessDuplicate } from "./util.ts";

export async function createDevice(ctx: QueryContext, a: Parsed<"create_device">): Promise<Reply<"create_device">> {
  const host = a.hostid !== undefined
    ? await ctx.store.hosts.findOne({ _id: a.hostid })
    : a.hostname !== undefined ? await ctx.store.hosts.findOne({ hostname: a.hostname }) : undefined;
  if (host === undefined) throw new MogileError("bad_args", "No hostid/hostname parameter");
  if (!host) throw new MogileError(a.hostid !== undefined ? "unknown_hostid" : "unknown_host");
  await unlessDuplicate(ctx.store.devices.insertOne({ _id: a.devid, hostid: host._id, status: a.state, weight: 100 }), "existing_devid", `device ${a.devid} already exists`);
  devicesChanged(ctx);
  return { devid: a.devid, hostid: host._id };
}
