// `mogile device list|add|modify|mark` (mogadm device …).
import { Command } from "commander";
import { DEVICE_STATES } from "../../protocol/schemas.ts";
import type { DeviceInfo, HostInfo, MogileClient } from "../../protocol/index.ts";
import { int, oneOf, printJson, printTable, withClient } from "./context.ts";
import { deviceDir, initDevice, MOUNT_MARKER } from "../../actors/storage/mount.ts";

type DeviceState = DeviceInfo["status"];

/** get_devices and get_hosts together: devices carry only a hostid. */
export async function devicesWithHosts(client: MogileClient): Promise<{ hosts: HostInfo[]; devices: DeviceInfo[] }> {
  const [{ hosts }, { devices }] = await Promise.all([client.rpc("get_hosts", {}), client.rpc("get_devices", {})]);
  return { hosts, devices };
}

const pct = (n: number | null) => (n === null ? null : `${n.toFixed(1)}%`);

export function printDevices(hosts: HostInfo[], devices: DeviceInfo[]): void {
  const name = new Map(hosts.map((h) => [h.hostid, h.hostname]));
  printTable(
    ["devid", "host", "status", "observed", "weight", "total MB", "used MB", "free MB", "use"],
    [...devices].sort((a, b) => a.devid - b.devid).map((d) => [
      `dev${d.devid}`, name.get(d.hostid) ?? `hostid ${d.hostid}`, d.status, d.observed_state, d.weight,
      d.mb_total, d.mb_used, d.mb_free, pct(d.utilization),
    ]),
  );
}

export function deviceCommand(): Command {
  const device = new Command("device").description("storage devices (mogadm device)");

  device.command("list").description("list devices with their state and usage")
    .argument("[host]", "only the devices of this host")
    .action(withClient(async ({ client, json }, _o, host) => {
      const { hosts, devices } = await devicesWithHosts(client);
      const hostid = host === undefined ? undefined : hosts.find((h) => h.hostname === host)?.hostid;
      const shown = host === undefined ? devices : devices.filter((d) => d.hostid === hostid);
      if (json) return printJson({ devices: shown });
      printDevices(hosts, shown);
    }));

  device.command("add").description("register a device on a host")
    .argument("<host>", "host name")
    .argument("<devid>", "device id (unique in the cluster)", int(1))
    .option("--state <state>", `initial state: ${DEVICE_STATES.join(", ")}`, oneOf(DEVICE_STATES))
    .action(withClient<{ state?: DeviceState }>(async ({ client, json }, o, host, devid) => {
      const reply = await client.rpc("create_device", { hostname: host, devid: Number(devid), ...(o.state && { state: o.state }) });
      if (json) return printJson(reply);
      console.log(`device dev${reply.devid} added to ${host}`);
    }));

  device.command("init").description(`write a device's mount marker (${MOUNT_MARKER}) on this storage host; without it the device is neither read nor written`)
    .argument("<root>", "the storage agent's root (MOGILE_STORAGE_ROOT); the disk is mounted at <root>/dev<devid>")
    .argument("<devid>", "device id", int(1))
    .option("--create", "make the device directory when it is missing (a device on the root filesystem)")
    .action(async (root: string, devid: string, o: { create?: boolean }) => {
      const made = await initDevice(root, Number(devid), { create: o.create });
      console.log(made ? `${deviceDir(root, Number(devid))} marked as dev${devid}` : `${deviceDir(root, Number(devid))} already marked as dev${devid}`);
    });

  device.command("modify").description("change a device's weight")
    .argument("<host>", "host name")
    .argument("<devid>", "device id", int(1))
    .requiredOption("--weight <n>", "placement weight (0 = no new files)", int(0))
    .action(withClient<{ weight: number }>(async ({ client, json }, o, host, devid) => {
      const reply = await client.rpc("set_weight", { host, device: Number(devid), weight: o.weight });
      if (json) return printJson(reply);
      console.log(`device dev${devid} weight set to ${o.weight}`);
    }));

  device.command("mark").description("set a device's state")
    .argument("<host>", "host name")
    .argument("<devid>", "device id", int(1))
    .argument("<state>", DEVICE_STATES.join("|"), oneOf(DEVICE_STATES))
    .action(withClient(async ({ client, json }, _o, host, devid, state) => {
      const reply = await client.rpc("set_state", { host, device: Number(devid), state: state as DeviceState });
      if (json) return printJson(reply);
      console.log(`device dev${devid} marked ${state}`);
    }));

  return device;
}
