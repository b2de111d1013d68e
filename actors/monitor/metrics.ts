// Device metrics from the monitor: usage and observed state from the heartbeats it judges, admin state
// from the device table, read at scrape time from what the monitor last wrote (bounded by the number
// of devices; a device marked dead or deleted drops out).
import { DEVICE_STATES, OBSERVED_STATES, type ObservedDevice, type ObservedState } from "../../protocol/schemas.ts";
import type { DeviceView } from "../runtime/devices.ts";
import { counter, gauge } from "../runtime/metrics.ts";

type Dev = "devid" | "hostid";
const labels = ["devid", "hostid"] as const;

/** what the running monitor wrote last, per device, and its device table (the latest start wins) */
let current: { latest: Map<number, ObservedDevice>; devices: DeviceView } | null = null;

const each = (fn: (e: ObservedDevice, l: Record<Dev, string>) => void) => {
  for (const e of current?.latest.values() ?? []) {
    // a device deleted from the table is no longer reported
    if (!current!.devices.devices.has(e.devid)) continue;
    fn(e, { devid: String(e.devid), hostid: String(e.hostid) });
  }
};
const bytes = (name: string, help: string, field: "total" | "used" | "free") => gauge({
  name, help, labelNames: labels,
  collect() { this.reset(); each((e, l) => this.set(l, e[field])); },
});
bytes("mogile_device_total_bytes", "Size of a device's filesystem, from its last heartbeat", "total");
bytes("mogile_device_used_bytes", "Bytes used on a device's filesystem, from its last heartbeat", "used");
bytes("mogile_device_free_bytes", "Bytes free for mogile on a device's filesystem, from its last heartbeat", "free");
gauge({
  name: "mogile_device_observed_state",
  help: "1 for the state the monitor observes a device in (writeable, readable, unreachable, unmounted), 0 for the others",
  labelNames: [...labels, "state"] as const,
  collect() { this.reset(); each((e, l) => { for (const state of OBSERVED_STATES) this.set({ ...l, state }, e.observed === state ? 1 : 0); }); },
});
gauge({
  name: "mogile_device_admin_state",
  help: "1 for the state an operator set on a device (alive, down, readonly, drain, dead), 0 for the others",
  labelNames: [...labels, "state"] as const,
  collect() {
    this.reset();
    each((e, l) => {
      const status = current?.devices.devices.get(e.devid)?.status;
      if (status) for (const state of DEVICE_STATES) this.set({ ...l, state }, status === state ? 1 : 0);
    });
  },
});
gauge({
  name: "mogile_device_heartbeat_age_seconds",
  help: "Seconds since the device's last heartbeat reached the monitor",
  labelNames: labels,
  collect() { this.reset(); const now = Date.now(); each((e, l) => { if (e.lastHeartbeat) this.set(l, (now - e.lastHeartbeat) / 1000); }); },
});
const changes = counter({ name: "mogile_device_state_changes_total", help: "Observed state changes the monitor announced, by the state entered", labelNames: ["state"] as const });

export function monitorMetrics(devices: DeviceView) {
  const latest = new Map<number, ObservedDevice>();
  current = { latest, devices };
  return {
    /** what the monitor just wrote for a device */
    observed(entry: ObservedDevice, changedFrom: ObservedState | null | undefined): void {
      latest.set(entry.devid, entry);
      if (changedFrom !== entry.observed) changes.inc({ state: entry.observed });
    },
    /** a device no longer judged (marked dead) */
    forget(devid: number): void { latest.delete(devid); },
  };
}
