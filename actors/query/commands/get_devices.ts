// get_devices: every device (or one) with admin state, weight, usage and observed state.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";

const mb = (n: number | undefined) => (n === undefined ? null : Math.floor(n / (1024 * 1024)));

export async function getDevices(ctx: QueryContext, a: Parsed<"get_devices">): Promise<Reply<"get_devices">> {
  const devs = await ctx.store.devices.find(a.devid ? { _id: a.devid } : {}).sort({ _id: 1 }).toArray();
  return {
    devices: devs.map((d) => {
      const o = ctx.devices.row(d._id)?.observed;
      return {
        devid: d._id, hostid: d.hostid, status: d.status, weight: d.weight,
        mb_total: mb(o?.total), mb_used: mb(o?.used), mb_free: mb(o?.free),
        observed_state: o?.observed ?? null,
        utilization: o && o.total > 0 ? Math.round((o.used / o.total) * 1000) / 10 : null,
      };
    }),
  };
}
