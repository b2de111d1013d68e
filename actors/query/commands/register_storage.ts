// register_storage (mogile addition): idempotent self-registration of a storage agent's host and devices.
// A host id may be given (multi-machine configs fix it, as the agent's NATS user is bound to it);
// else the next free one is taken. Address, port and zone follow the latest registration.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { nextHostId } from "../../runtime/counters.ts";
import { devicesChanged } from "./util.ts";

const isDup = (err: unknown) => (err as { code?: number }).code === 11000;

export async function registerStorage(ctx: QueryContext, a: Parsed<"register_storage">): Promise<Reply<"register_storage">> {
  let host = await ctx.store.hosts.findOne({ hostname: a.host });
  if (host && a.hostid !== undefined && host._id !== a.hostid) {
    throw new MogileError("host_exists", `host ${a.host} is registered as host ${host._id}, not ${a.hostid}`);
  }
  if (!host) {
    if (a.hostid !== undefined) {
      const taken = await ctx.store.hosts.findOne({ _id: a.hostid });
      if (taken && taken.hostname !== a.host) throw new MogileError("host_exists", `host id ${a.hostid} belongs to host ${taken.hostname}`);
    }
    // an automatic id may collide with one an operator fixed: take the next
    for (let attempt = 0; !host && attempt < 20; attempt++) {
      const hostid = a.hostid ?? (await nextHostId(ctx.counters));
      try {
        await ctx.store.hosts.insertOne({ _id: hostid, hostname: a.host, ip: a.ip, port: a.port, status: "alive", zone: a.zone ?? null });
      } catch (err) {
        if (!isDup(err)) throw err; // registered concurrently (then theirs is found below), or an id in use
      }
      host = await ctx.store.hosts.findOne({ hostname: a.host });
      if (!host && a.hostid !== undefined) throw new MogileError("host_exists", `host id ${a.hostid} is taken`);
    }
    if (!host) throw new MogileError("failure", `could not register host ${a.host}`);
  } else if (host.ip !== a.ip || host.port !== a.port || (a.zone !== undefined && (host.zone ?? null) !== a.zone)) {
    await ctx.store.hosts.updateOne({ _id: host._id }, { $set: { ip: a.ip, port: a.port, ...(a.zone !== undefined ? { zone: a.zone } : {}) } });
  }
  for (const devid of a.devids) {
    const dev = await ctx.store.devices.findOne({ _id: devid });
    if (dev && dev.hostid !== host._id) throw new MogileError("existing_devid", `device ${devid} belongs to host ${dev.hostid}, not ${host._id}`);
    if (!dev) {
      await ctx.store.devices.insertOne({ _id: devid, hostid: host._id, status: "alive", weight: 100 }).catch((err) => {
        if (!isDup(err)) throw err;
      });
    }
  }
  devicesChanged(ctx);
  return { hostid: host._id, devids: a.devids };
}
