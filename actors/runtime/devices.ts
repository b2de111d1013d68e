// An in-memory view of hosts, devices and their observed state, kept fresh from the database
// (reloaded on `device.changed` events and a timer) and the monitor's KV bucket (watched).
import { headLength } from "../../protocol/http.ts";
import { httpScheme } from "./config.ts";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { buckets, subjects } from "../../protocol/subjects.ts";
import { ObservedDevice } from "../../protocol/schemas.ts";
import { fidPath } from "../../protocol/paths.ts";
import type { Store, HostDoc, DeviceDoc } from "./mongo.ts";
import type { Logger } from "./log.ts";
import { clusterSignedUrl, type SignedMethod } from "./urlsign.ts";

/** Devices must keep this much free space to receive new files (MogileFS min_free_space: 100 MB). */
export const MIN_FREE_BYTES = Number(process.env.MOGILE_MIN_FREE_BYTES ?? 100 * 1024 * 1024);
/** An observation older than this is treated as unknown (the monitor may be gone). */
const STALE_MS = Number(process.env.MOGILE_OBSERVED_STALE_MS ?? 30_000);
/**
 * A device unreachable this long (no heartbeat: its machine is down or cut off) is *lost for now*:
 * its files are copied elsewhere until their policy is met without it (the reaper queues them).
 * Nothing is forgotten: when it comes back, the extra copies are surplus. MogileFS waits for an
 * operator to mark it dead; a machine lost at night should not wait for the morning.
 */
/** A device state watch with no entry for this long is made again (the monitor refreshes every 5 s). */
const WATCH_SILENCE_MS = Number(process.env.MOGILE_WATCH_SILENCE_MS ?? 15_000);
/** Quieter than this (each entry is rewritten every 5 s), the entries are also read directly. */
const WATCH_QUIET_MS = 7_000;
export const REPAIR_AFTER_MS = Number(process.env.MOGILE_REPAIR_AFTER_MS ?? 600_000);

export interface DeviceRow { dev: DeviceDoc; host: HostDoc; observed: ObservedDevice | undefined }

export class DeviceView {
  hosts = new Map<number, HostDoc>();
  devices = new Map<number, DeviceDoc>();
  observed = new Map<number, ObservedDevice>();
  private sub: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopWatch: (() => void) | null = null;

  constructor(private readonly store: Store, private readonly log: Logger) {}

  async start(nc: NatsConnection): Promise<void> {
    await this.reload();
    this.sub = nc.subscribe(subjects.devicesChanged, { callback: () => { this.reload().catch((err) => this.log.warn("device reload failed", { err })); } });
    this.timer = setInterval(() => this.reload().catch((err) => this.log.warn("device reload failed", { err })), 10_000);
    this.timer.unref();
    const kv = await new Kvm(nc).create(buckets.deviceState, { history: 1 });
    // the watch is a consumer on one NATS node: if that node is cut off or its stream changes
    // leader, the watch can end or go quiet. The monitor rewrites every device's entry every few
    // seconds, so silence means a broken watch: it is made again (and again after an end)
    let stopped = false;
    let current: { stop(): void } | null = null;
    let lastEvent = Date.now();
    // while the watch is quiet, read the entries directly as well: a direct get is answered by any
    // node holding the bucket, so it works while the stream or the JetStream meta leader is being
    // elected again (a partition), when new watches cannot be made for many seconds
    let polling = false;
    const poll = async () => {
      if (polling) return;
      polling = true;
      try {
        await Promise.all([...this.devices.keys()].map(async (devid) => {
          const e = await kv.get(`dev.${devid}`).catch(() => null);
          if (!e || e.operation !== "PUT") return;
          try {
            const o = ObservedDevice.parse(e.json());
            if (o.ts > (this.observed.get(devid)?.ts ?? 0)) this.observed.set(devid, o);
          } catch { /* ignore malformed */ }
        }));
      } finally {
        polling = false;
      }
    };
    let ticks = 0;
    const watchdog = setInterval(() => {
      const silent = Date.now() - lastEvent;
      if (this.observed.size && silent > WATCH_QUIET_MS && ++ticks % 2 === 0) void poll();
      if (current && this.observed.size && silent > WATCH_SILENCE_MS) {
        this.log.warn("device state watch silent; making it again", { silentMs: silent });
        lastEvent = Date.now() - WATCH_QUIET_MS; // keep polling meanwhile
        current.stop();
      }
    }, 1_000);
    watchdog.unref();
    this.stopWatch = () => { stopped = true; clearInterval(watchdog); current?.stop(); };
    const first = await kv.watch({ key: "dev.>" });
    (async () => {
      let iter: Awaited<ReturnType<typeof kv.watch>> | null = first;
      for (let attempt = 0; !stopped; ) {
        try {
          iter ??= await kv.watch({ key: "dev.>" });
          if (stopped) { iter.stop(); break; }
          current = iter;
          lastEvent = Date.now();
          for await (const e of iter) {
            lastEvent = Date.now();
            attempt = 0;
            const devid = Number(e.key.slice(4));
            if (e.operation !== "PUT") { this.observed.delete(devid); continue; }
            try { this.observed.set(devid, ObservedDevice.parse(e.json())); } catch { /* ignore malformed */ }
          }
        } catch (err) {
          this.log.warn("device state watch failed; retrying", { err });
        }
        iter = null;
        current = null;
        if (!stopped) await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt++)));
      }
    })().catch((err) => this.log.warn("device state watch ended", { err }));
  }

  stop(): void {
    this.sub?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    this.stopWatch?.();
  }

  private loading: Promise<void> | null = null;
  private again = false;

  /**
   * Reload hosts and devices. Reloads never overlap: a request during one schedules exactly one
   * more, so an older read can never land after a newer one.
   */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        const [hosts, devices] = await Promise.all([this.store.hosts.find().toArray(), this.store.devices.find().toArray()]);
        this.hosts = new Map(hosts.map((h) => [h._id, h]));
        this.devices = new Map(devices.map((d) => [d._id, d]));
      } while (this.again);
    })().finally(() => { this.loading = null; });
    return this.loading;
  }

  /** base URL for writes, deletes and replication (http_port) */
  baseUrl(devid: number): string | null {
    const d = this.devices.get(devid);
    const h = d && this.hosts.get(d.hostid);
    return h ? `${httpScheme()}://${h.ip}:${h.port}` : null;
  }

  url(devid: number, fid: number): string | null {
    const base = this.baseUrl(devid);
    return base ? base + fidPath(devid, fid) : null;
  }

  /**
   * `url`, signed with the cluster key for a few minutes: the cluster's own deletes and reads
   * (a copy may be protected, so every internal check of a copy reads through one of these).
   */
  signedUrl(devid: number, fid: number, method: SignedMethod): string | null {
    const url = this.url(devid, fid);
    return url && clusterSignedUrl(url, method, devid, fid);
  }

  /** URL for reads: http_get_port when set, the alternate IP for the `alt` zone */
  readUrl(devid: number, fid: number, zone?: string): string | null {
    const d = this.devices.get(devid);
    const h = d && this.hosts.get(d.hostid);
    if (!h) return null;
    const ip = zone === "alt" && h.altip ? h.altip : h.ip;
    return `${httpScheme()}://${ip}:${h.getport ?? h.port}${fidPath(devid, fid)}`;
  }

  row(devid: number): DeviceRow | null {
    const dev = this.devices.get(devid);
    const host = dev && this.hosts.get(dev.hostid);
    if (!dev || !host) return null;
    const o = this.observed.get(devid);
    return { dev, host, observed: o && Date.now() - o.ts < STALE_MS ? o : undefined };
  }

  /** MogileFS should_read_from: admin states allow reads and the monitor has not seen it unreachable or unmounted. */
  readable(devid: number): boolean {
    const r = this.row(devid);
    if (!r) return false;
    if (r.host.status !== "alive" && r.host.status !== "readonly") return false;
    if (r.dev.status !== "alive" && r.dev.status !== "readonly" && r.dev.status !== "drain") return false;
    return r.observed?.observed !== "unreachable" && r.observed?.observed !== "unmounted";
  }

  /** Unreachable for REPAIR_AFTER_MS or more (see there); a device never heard from is not. */
  lost(devid: number, now = Date.now()): boolean {
    const o = this.row(devid)?.observed;
    // both times are the monitor's: hosts' clocks may disagree; `now` only rules out a stale entry
    return o?.observed === "unreachable" && o.lastHeartbeat > 0 && o.ts - o.lastHeartbeat >= REPAIR_AFTER_MS && now - o.ts < STALE_MS;
  }

  /** MogileFS should_get_new_files (also used for replicas). */
  writable(devid: number, size = 0): boolean {
    const r = this.row(devid);
    if (!r || r.host.status !== "alive" || r.dev.status !== "alive") return false;
    if (!r.observed || r.observed.observed !== "writeable") return false;
    return r.observed.free - size >= MIN_FREE_BYTES;
  }

  /** How heavily choose() draws a device: its free MB times its admin weight (100 = 1). */
  drawWeight(devid: number): number {
    const free = this.observed.get(devid)?.free ?? 0;
    return Math.max(1, free / 1e6) * Math.max(0.01, (this.devices.get(devid)?.weight ?? 100) / 100);
  }

  /**
   * Up to `count` writable devices, weighted-random by free space and weight, on distinct hosts
   * unless `distinctHosts` is false (devices in `avoidDevs` or on hosts in `avoidHosts` excluded;
   * with `only`, just those devices are considered).
   */
  choose(count: number, opts: { size?: number; avoidHosts?: Set<number>; avoidDevs?: Set<number>; only?: Set<number>; distinctHosts?: boolean } = {}): number[] {
    const pool: { devid: number; hostid: number; w: number }[] = [];
    for (const devid of opts.only ?? this.devices.keys()) {
      if (opts.avoidDevs?.has(devid) || !this.writable(devid, opts.size ?? 0)) continue;
      const d = this.devices.get(devid)!;
      if (opts.avoidHosts?.has(d.hostid)) continue;
      pool.push({ devid, hostid: d.hostid, w: this.drawWeight(devid) });
    }
    const distinct = opts.distinctHosts !== false;
    const out: number[] = [];
    while (out.length < count && pool.length) {
      const total = pool.reduce((s, p) => s + p.w, 0);
      let r = Math.random() * total;
      let i = 0;
      while (i < pool.length - 1 && (r -= pool[i].w) > 0) i++;
      const pick = pool[i];
      out.push(pick.devid);
      for (let j = pool.length - 1; j >= 0; j--) if (pool[j].devid === pick.devid || (distinct && pool[j].hostid === pick.hostid)) pool.splice(j, 1);
    }
    return out;
  }

  /** Order a file's devices for reading: readable ones weighted-random, drain devices last. */
  orderForRead(devids: number[]): number[] {
    const live = devids.filter((d) => this.readable(d));
    const normal = live.filter((d) => this.devices.get(d)?.status !== "drain");
    const drain = live.filter((d) => this.devices.get(d)?.status === "drain");
    for (let i = normal.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [normal[i], normal[j]] = [normal[j], normal[i]];
    }
    return [...normal, ...drain];
  }
}

/**
 * The copy of `fid` on `devid` answers with the file's length. Checked after recording a copy: a
 * delete of an older copy there may have ended just before the record (its fence already down).
 */
export async function copyIsThere(view: DeviceView, devid: number, fid: number, length: number): Promise<boolean> {
  const url = view.signedUrl(devid, fid, "GET");
  return !!url && (await headLength(url, 10_000).catch(() => null)) === length;
}
