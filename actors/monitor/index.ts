// The monitor actor: turns device heartbeats into observed state (writeable / readable / unreachable / unmounted)
// in NATS KV, and announces every change on `mogile.event.device.state`.
import { z } from "zod";
import { Kvm } from "@nats-io/kv";
import { buckets, subjects } from "../../protocol/subjects.ts";
import { Heartbeat, ObservedDevice, type ObservedState } from "../../protocol/schemas.ts";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { DeviceView } from "../runtime/devices.ts";
import { probeDevice, type ProbeResult } from "./probe.ts";
import { monitorMetrics } from "./metrics.ts";

const Config = z.object({
  /** a device with no heartbeat for this long is unreachable (ms) */
  MOGILE_HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** how often observed state is re-evaluated (ms) */
  MOGILE_MONITOR_TICK_MS: z.coerce.number().int().positive().default(1_000),
  /** rewrite unchanged entries this often, so their timestamps stay fresh (ms) */
  MOGILE_MONITOR_REFRESH_MS: z.coerce.number().int().positive().default(5_000),
  /** how often each device gets a test write and read-back (ms; MogileFS: 15 s) */
  MOGILE_MONITOR_PROBE_MS: z.coerce.number().int().positive().default(15_000),
});

/** after a failed test write, the next one comes this soon (ms) */
const PROBE_RETRY_MS = 3_000;

/**
 * Observed state: unreachable without a recent heartbeat; unmounted when its agent reports the
 * device directory without its marker (neither read nor written); readable when the device says
 * it cannot write or the last test write failed; writeable otherwise. Pure, unit-tested.
 */
export function observe(lastHeartbeat: number, writable: boolean, now: number, timeoutMs: number, probeOk = true, mounted = true): ObservedState {
  if (!lastHeartbeat || now - lastHeartbeat > timeoutMs) return "unreachable";
  if (!mounted) return "unmounted";
  return writable && probeOk ? "writeable" : "readable";
}

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const log = ctx.log;
  const kv = await new Kvm(ctx.nc).create(buckets.deviceState, { history: 1 });
  const devices = new DeviceView(ctx.store!, log);
  await devices.start(ctx.nc);
  const metrics = monitorMetrics(devices);
  const startedAt = Date.now();
  // what the previous monitor left in the bucket
  const recorded = new Map<number, ObservedDevice>();
  for await (const k of await kv.keys("dev.>")) {
    const e = await kv.get(k);
    if (e?.operation !== "PUT") continue;
    const parsed = ObservedDevice.safeParse(e.json());
    if (parsed.success) recorded.set(parsed.data.devid, parsed.data);
  }
  const last = new Map<number, Heartbeat & { receivedAt: number }>();
  const written = new Map<number, { state: ObservedState; at: number }>();
  const probes = new Map<number, ProbeResult>();
  let probing = false;
  /** test-write every device that should take writes and is heartbeating; runs beside the ticks */
  const probeRound = async () => {
    if (probing) return;
    probing = true;
    try {
      const now = Date.now();
      await Promise.all([...devices.devices].map(async ([devid, dev]) => {
        const hb = last.get(devid);
        const host = devices.hosts.get(dev.hostid);
        // MogileFS can_delete_from: only devices that may be written are test-written
        if (!hb || now - hb.receivedAt > cfg.MOGILE_HEARTBEAT_TIMEOUT_MS || hb.mounted === false || host?.status !== "alive" || (dev.status !== "alive" && dev.status !== "drain")) return;
        const prev = probes.get(devid);
        // a failed test write is tried again sooner: one slow answer (a busy start) should not
        // keep a device out of placement for a whole period
        const every = prev?.ok === false ? Math.min(cfg.MOGILE_MONITOR_PROBE_MS, PROBE_RETRY_MS) : cfg.MOGILE_MONITOR_PROBE_MS;
        if (prev && now - prev.at < every) return;
        const base = devices.baseUrl(devid);
        if (!base) return;
        const r = await probeDevice(base, devid, 2_000);
        if (prev?.ok !== false && !r.ok) log.warn("device failed its test write", { devid, error: r.error });
        if (prev?.ok === false && r.ok) log.info("device passes its test write again", { devid });
        probes.set(devid, r);
      }));
    } finally {
      probing = false;
    }
  };

  const sub = ctx.nc.subscribe(subjects.heartbeatAll, {
    callback: (_err, msg) => {
      try {
        const hb = Heartbeat.parse(msg.json());
        // judge liveness by our clock, not the sender's: hosts' clocks may disagree
        last.set(hb.devid, { ...hb, receivedAt: Date.now() });
      } catch (err) {
        log.warn("malformed heartbeat", { subject: msg.subject, err });
      }
    },
  });

  const tick = async () => {
    const now = Date.now();
    const devids = new Set<number>([...devices.devices.keys(), ...last.keys()]);
    for (const devid of devids) {
      const hb = last.get(devid);
      const dev = devices.devices.get(devid);
      // give every device one timeout after our own start before calling it unreachable, unless
      // what an earlier monitor recorded is already too old to trust (say, a whole-cluster restart)
      if (!hb && now - startedAt < cfg.MOGILE_HEARTBEAT_TIMEOUT_MS) {
        const before = recorded.get(devid);
        if (!before || before.observed === "unreachable" || now - before.lastHeartbeat < cfg.MOGILE_HEARTBEAT_TIMEOUT_MS + cfg.MOGILE_MONITOR_REFRESH_MS) continue;
      }
      if (dev?.status === "dead") { metrics.forget(devid); continue; }
      const state = observe(hb?.receivedAt ?? 0, hb?.writable ?? false, now, cfg.MOGILE_HEARTBEAT_TIMEOUT_MS, probes.get(devid)?.ok !== false, hb?.mounted !== false);
      const prev = written.get(devid);
      if (prev && prev.state === state && now - prev.at < cfg.MOGILE_MONITOR_REFRESH_MS) continue;
      const entry: ObservedDevice = {
        devid, hostid: hb?.hostid ?? dev?.hostid ?? recorded.get(devid)?.hostid ?? 0,
        observed: state,
        total: hb?.total ?? recorded.get(devid)?.total ?? 0, used: hb?.used ?? recorded.get(devid)?.used ?? 0, free: hb?.free ?? recorded.get(devid)?.free ?? 0,
        ts: now, lastHeartbeat: hb?.receivedAt ?? recorded.get(devid)?.lastHeartbeat ?? 0,
      };
      if (!entry.hostid) continue;
      await kv.put(`dev.${devid}`, JSON.stringify(entry));
      written.set(devid, { state, at: now });
      metrics.observed(entry, prev?.state);
      if (prev?.state !== state) {
        log.info("device state changed", { devid, hostid: entry.hostid, from: prev?.state ?? "unknown", to: state, ...(state === "unmounted" ? { reason: hb?.reason } : {}) });
        ctx.nc.publish(subjects.deviceState, JSON.stringify({ devid, hostid: entry.hostid, from: prev?.state ?? null, to: state, at: now }));
      }
    }
  };

  const { stopped, done } = stoppedSignal();
  let running = true;
  const loop = (async () => {
    while (running) {
      void probeRound().catch((err) => log.warn("probe round failed", { err }));
      await tick().catch((err) => log.warn("monitor round failed", { err }));
      await new Promise((r) => setTimeout(r, cfg.MOGILE_MONITOR_TICK_MS));
    }
  })();
  return {
    stopped,
    async stop() {
      running = false;
      sub.unsubscribe();
      devices.stop();
      await loop;
      done();
    },
  };
}

export const spec: ActorSpec = { role: "monitor", mongo: true, start };
