// register_storage (mogile addition): idempotent self-registration of a storage agent's host and devices.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { nextHostId } from "../../runtime/counters.ts";
import { devicesChanged } from "./util.ts";

export async function registerStorage(ctx: QueryContext, a: Parsed<"register_storage">): Promise<Reply<"register_storage">> {
  let host = await ctx.store.hosts.findOne({ hostname: a.host });
  if (!host) {
    const hostid = await nextHostId(ctx.counters);
    try {
      await ctx.store.hosts.insertOne({ _id: hostid, hostname: a.host, ip: a.ip, port: a.port, status: "alive" });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err; // registered concurrently: use theirs
    }
    host = await ctx.store.hosts.findOne({ hostname: a.host });
    if (!host) throw new MogileError("failure", `could not register host ${a.host}`);
  } else if (host.ip !== a.ip || host.port !== a.port) {
    await ctx.store.hosts.updateOne({ _id: host._id }, { $set: { ip: a.ip, port: a.port } });
  }
  for (const devid of a.devids) {
    const dev = await ctx.store.devices.findOne({ _id: devid });
    if (dev && dev.hostid !== host._id) throw new MogileError("existing_devid", `device ${devid} belongs to host ${dev.hostid}, not ${host._id}`);
    if (!dev) {
      await ctx.store.devices.insertOne({ _id: devid, hostid: host._id, status: "alive", weight: 100 }).catch((err) => {
        if ((err as { code?: number }).code !== 11000) throw err;
      });
    }
  }
  devicesChanged(ctx);
  return { hostid: host._id, devids: a.devids };
}
