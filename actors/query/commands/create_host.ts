// create_host: register a storage host (status defaults to down, as in MogileFS); its IP and port
// may not be another host's (dup).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { nextHostId } from "../../runtime/counters.ts";
import { devicesChanged, unlessDuplicate } from "./util.ts";
import { claimAddress, refuseTakenAddress } from "./host_address.ts";

export async function createHost(ctx: QueryContext, a: Parsed<"create_host">): Promise<Reply<"create_host">> {
  if (await ctx.store.hosts.findOne({ hostname: a.host })) throw new MogileError("host_exists", `host ${a.host} already exists`);
  if (!a.ip) throw new MogileError("no_ip");
  if (!a.port) throw new MogileError("no_port");
  await refuseTakenAddress(ctx, a.ip, a.port, null);
  const hostid = await nextHostId(ctx.counters);
  await unlessDuplicate(ctx.store.hosts.insertOne({
    _id: hostid, hostname: a.host, ip: a.ip, port: a.port, status: a.status,
    getport: a.getport ?? null, altip: a.altip ?? null, altmask: a.altmask ?? null,
    zone: a.zone && a.zone !== "none" ? a.zone : null,
  }), "host_exists");
  // the row first, then the claim: a rival reading our claim finds its holder at the address
  try {
    await claimAddress(ctx, hostid, a.ip, a.port);
  } catch (err) {
    await ctx.store.hosts.deleteOne({ _id: hostid });
    throw err;
  }
  devicesChanged(ctx);
  return { hostid, hostname: a.host };
}
