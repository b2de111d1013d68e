// get_hosts: every host (or one, by hostid).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

export async function getHosts(ctx: QueryContext, a: Parsed<"get_hosts">): Promise<Reply<"get_hosts">> {
  const hosts = await ctx.store.hosts.find(a.hostid ? { _id: a.hostid } : {}).sort({ _id: 1 }).toArray();
  return {
    hosts: hosts.map((h) => ({
      hostid: h._id, hostname: h.hostname, hostip: h.ip, http_port: h.port, http_get_port: h.getport ?? null,
      altip: h.altip ?? null, altmask: h.altmask ?? null, status: h.status,
      ...(h.zone ? { zone: h.zone } : {}),
    })),
  };
}
