// Host and device registration: create_host, create_device, register_storage, get_hosts, get_devices.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { subjects } from "../../../protocol/subjects.ts";
import { nextId } from "../../runtime/mongo.ts";
import { unlessDuplicate } from "./util.ts";

function devicesChanged(ctx: QueryContext) {
  ctx.nc.publish(subjects.devicesChanged, "{}");
}

export async function createHost(ctx: QueryContext, a: Parsed<"create_host">): Promise<Reply<"create_host">> {
  if (await ctx.store.hosts.findOne({ hostname: a.host })) throw new MogileError("host_exists", `host ${a.host} already exists`);
  const hostid = await nextId(ctx.store.counters, "hostid");
  await unlessDuplicate(ctx.store.hosts.insertOne({ _id: hostid, hostname: a.host, ip: a.ip, port: a.port, status: a.status }), "host_exists");
  devicesChanged(ctx);
  return { hostid, hostname: a.host };
}

export async function createDevice(ctx: QueryContext, a: Parsed<"create_device">): Promise<Reply<"create_device">> {
  const host = a.hostid !== undefined
    ? await ctx.store.hosts.findOne({ _id: a.hostid })
    : a.hostname !== undefined ? await ctx.store.hosts.findOne({ hostname: a.hostname }) : undefined;
  if (host === undefined) throw new MogileError("bad_params", "No hostid/hostname parameter");
  if (!host) throw new MogileError(a.hostid !== undefined ? "unknown_hostid" : "unknown_host");
  await unlessDuplicate(ctx.store.devices.insertOne({ _id: a.devid, hostid: host._id, status: a.state, weight: 100 }), "existing_devid", `device ${a.devid} already exists`);
  devicesChanged(ctx);
  return { devid: a.devid, hostid: host._id };
}

/** Idempotent self-registration of a storage agent: its host (by name) and each of its devices. */
export async function registerStorage(ctx: QueryContext, a: Parsed<"register_storage">): Promise<Reply<"register_storage">> {
  let host = await ctx.store.hosts.findOne({ hostname: a.host });
  if (!host) {
    const hostid = await nextId(ctx.store.counters, "hostid");
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

export async function getHosts(ctx: QueryContext, _a: Parsed<"get_hosts">): Promise<Reply<"get_hosts">> {
  const hosts = await ctx.store.hosts.find().sort({ _id: 1 }).toArray();
  return { hosts: hosts.map((h) => ({ hostid: h._id, hostname: h.hostname, hostip: h.ip, http_port: h.port, status: h.status })) };
}

export async function getDevices(ctx: QueryContext, a: Parsed<"get_devices">): Promise<Reply<"get_devices">> {
  const devs = await ctx.store.devices.find(a.devid ? { _id: a.devid } : {}).sort({ _id: 1 }).toArray();
  const mb = (n: number | undefined) => (n === undefined ? null : Math.floor(n / (1024 * 1024)));
  return {
    devices: devs.map((d) => {
      const o = ctx.devices.row(d._id)?.observed;
      return {
        devid: d._id, hostid: d.hostid, status: d.status, weight: d.weight,
        mb_total: mb(o?.total), mb_used: mb(o?.used), mb_free: mb(o?.free),
        observed_state: o?.observed ?? null,
      };
    }),
  };
}
