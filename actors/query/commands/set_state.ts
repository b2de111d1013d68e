// set_state: change a device's admin state (dead is permanent: it can only go to down or readonly).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { devicesChanged, hostByName } from "./util.ts";

export async function setState(ctx: QueryContext, a: Parsed<"set_state">): Promise<Reply<"set_state">> {
  const dev = await ctx.store.devices.findOne({ _id: a.device });
  if (!dev) throw new MogileError("no_device", `device ${a.device} not found`);
  const host = await hostByName(ctx, a.host, "host_mismatch");
  if (dev.hostid !== host._id) throw new MogileError("host_mismatch");
  if (dev.status === "dead" && a.state === "alive") throw new MogileError("state_too_high");
  await ctx.store.devices.updateOne({ _id: dev._id }, { $set: { status: a.state } });
  if (dev.status !== a.state) ctx.log.info("device state set", { devid: dev._id, from: dev.status, to: a.state });
  devicesChanged(ctx);
  return {};
}
