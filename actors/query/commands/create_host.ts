// create_host: register a storage host (status defaults to down, as in MogileFS).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { nextHostId } from "../../runtime/counters.ts";
import { devicesChanged, unlessDuplicate } from "./util.ts";

export async function createHost(ctx: QueryContext, a: Parsed<"create_host">): Promise<Reply<"create_host">> {
  if (await ctx.store.hosts.findOne({ hostname: a.host })) throw new MogileError("host_exists", `host ${a.host} already exists`);
  if (!a.ip) throw new MogileError("no_ip");
  if (!a.port) throw new MogileError("no_port");
  const hostid = await nextHostId(ctx.counters);
  await unlessDuplicate(ctx.store.hosts.insertOne({
    _id: hostid, hostname: a.host, ip: a.ip, port: a.port, status: a.status,
    getport: a.getport ?? null, altip: a.altip ?? null, altmask: a.altmask ?? null,
    zone: a.zone && a.zone !== "none" ? a.zone : null,
  }), "host_exists");
  devicesChanged(ctx);
  return { hostid, hostname: a.host };
}
