// The live dashboard: GET /ui (the page, open: it holds no cluster data), GET /ui/api/state (one
// snapshot) and GET /ui/api/events (Server-Sent Events: snapshots and cluster events as they happen),
// both behind a cluster-admin key. One hub per gateway gathers the state for every open stream: a
// refresh every few seconds (usage from heartbeats) and soon after a device or task event.
import type { Hono } from "hono";
import { MogileError } from "../../protocol/errors.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { subjects } from "../../protocol/subjects.ts";
import { authenticate, need, type Authenticator } from "./auth.ts";
import type { GatewayEnv } from "./body.ts";
import type { MetricsSource } from "./metrics.ts";
import { gatherState, type DashboardState } from "./dashboard-state.ts";
import { DASHBOARD_CSP, dashboardPage } from "./dashboard-page.ts";

/** Subscribes `cb` to NATS subjects; returns the unsubscribe (a fake, or none, in unit tests). */
export type EventFeed = (subjects: string[], cb: (subject: string, data: Uint8Array) => void) => () => void;

export interface DashboardOptions {
  /** a snapshot is gathered this often while a stream is open (ms) */
  refreshMs: number;
  /** after an event, the wait for more before the refresh it triggers (ms) */
  debounceMs: number;
  /** SSE comment lines this often keep proxies and the gateway's idle timeout from closing a stream (ms) */
  keepAliveMs: number;
  /** open streams per gateway; one more is refused (503) */
  maxStreams: number;
  /** bytes queued for a stream's client before it is cut off as too slow */
  maxQueuedBytes: number;
  /** events remembered for a new stream */
  recentEvents: number;
}

export const DEFAULT_DASHBOARD: DashboardOptions = {
  refreshMs: 5_000, debounceMs: 150, keepAliveMs: 15_000, maxStreams: 32, maxQueuedBytes: 1 << 20, recentEvents: 50,
};

export interface ClusterEvent { at: number; kind: string; text: string; data?: unknown }
type Listener = (event: "state" | "event", data: DashboardState | ClusterEvent) => void;

/** the events the dashboard lists (file changes are too many to list) and whether each needs a new snapshot */
const WATCHED: Record<string, { kind: string; refresh: boolean }> = {
  [subjects.deviceState]: { kind: "observed", refresh: true },
  [subjects.devicesChanged]: { kind: "admin", refresh: true },
  [subjects.tasksChanged]: { kind: "tasks", refresh: true },
  [subjects.namesChanged]: { kind: "names", refresh: false },
  [subjects.keysChanged]: { kind: "keys", refresh: false },
};

function describe(subject: string, data: Uint8Array): ClusterEvent {
  const kind = WATCHED[subject]?.kind ?? subject;
  let body: Record<string, unknown> = {};
  try { body = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>; } catch { /* an event without a body */ }
  const text = kind === "observed"
    ? `device ${body.devid} (host ${body.hostid}) observed ${body.from ?? "unknown"} → ${body.to}`
    : kind === "admin" ? "hosts or devices changed (admin)"
    : kind === "tasks" ? "fsck or rebalance state changed"
    : kind === "names" ? "domains or classes changed"
    : "a gateway key changed";
  return { at: typeof body.at === "number" ? body.at : Date.now(), kind, text, data: kind === "observed" ? body : undefined };
}

/** Gathers snapshots while someone watches and fans them out with the events; idle without streams. */
export class DashboardHub {
  private listeners = new Set<Listener>();
  private closers = new Set<() => void>();
  private recent: ClusterEvent[] = [];
  private last: DashboardState | null = null;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private refreshing = false;
  private again = false;
  readonly o: DashboardOptions;

  constructor(private readonly client: Pick<MogileClient, "rpc">, private readonly metrics?: MetricsSource, private readonly feed?: EventFeed, o: Partial<DashboardOptions> = {}) {
    this.o = { ...DEFAULT_DASHBOARD, ...o };
  }

  get streams(): number { return this.listeners.size; }

  state(): Promise<DashboardState> { return gatherState(this.client, this.metrics); }

  /** A new watcher: it gets the recent events, a snapshot at once, then every change. */
  add(l: Listener, close: () => void): () => void {
    this.listeners.add(l);
    this.closers.add(close);
    for (const e of this.recent) l("event", e);
    if (this.last && Date.now() - this.last.at < this.o.refreshMs) l("state", this.last);
    if (this.listeners.size === 1) this.wake();
    this.refreshSoon();
    return () => {
      this.listeners.delete(l);
      this.closers.delete(close);
      if (this.listeners.size === 0) this.sleep();
    };
  }

  /** Ends every stream (the gateway is stopping). */
  close(): void {
    for (const c of [...this.closers]) c();
    this.listeners.clear();
    this.closers.clear();
    this.sleep();
  }

  private wake(): void {
    this.unsubscribe = this.feed?.(Object.keys(WATCHED), (subject, data) => {
      const e = describe(subject, data);
      this.recent.push(e);
      if (this.recent.length > this.o.recentEvents) this.recent.shift();
      for (const l of this.listeners) l("event", e);
      if (WATCHED[subject]?.refresh) this.refreshSoon();
    }) ?? null;
    this.timer = setInterval(() => this.refresh(), this.o.refreshMs);
  }

  private sleep(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = this.debounce = null;
  }

  private refreshSoon(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => { this.debounce = null; this.refresh(); }, this.o.debounceMs);
  }

  /** One snapshot at a time; a request meanwhile makes one more right after (it may have missed a change). */
  private refresh(): void {
    if (this.listeners.size === 0) return;
    if (this.refreshing) { this.again = true; return; }
    this.refreshing = true;
    this.state().then((s) => {
      this.last = s;
      for (const l of this.listeners) l("state", s);
    }, () => { /* gatherState reports failures inside the snapshot */ }).finally(() => {
      this.refreshing = false;
      if (this.again) { this.again = false; this.refresh(); }
    });
  }
}

export function dashboardRoutes(app: Hono<GatewayEnv>, auth: Authenticator, hub: DashboardHub): void {
  app.get("/ui", need.open(), (c) => c.html(dashboardPage(), 200, {
    "content-security-policy": DASHBOARD_CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store",
  }));
  app.get("/ui/api/state", authenticate(auth), need.cluster(), async (c) => c.json(await hub.state(), 200, { "cache-control": "no-store" }));
  app.get("/ui/api/events", authenticate(auth), need.cluster(), (c) => {
    if (hub.streams >= hub.o.maxStreams) throw new MogileError("unavailable", `this gateway serves at most ${hub.o.maxStreams} dashboard streams`);
    const enc = new TextEncoder();
    let cleanup = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        let open = true;
        let off: (() => void) | null = null;
        let beat: NodeJS.Timeout | undefined;
        cleanup = () => { open = false; clearInterval(beat); off?.(); off = null; };
        const end = () => {
          if (!open) return;
          cleanup();
          try { ctrl.close(); } catch { /* already closed or cancelled */ }
        };
        const send = (text: string) => {
          if (!open) return;
          // a client that does not read is cut off rather than buffered without bound
          if ((ctrl.desiredSize ?? 0) <= 0) { end(); return; }
          try { ctrl.enqueue(enc.encode(text)); } catch { end(); }
        };
        send("retry: 3000\n\n");
        beat = setInterval(() => send(": keep-alive\n\n"), hub.o.keepAliveMs);
        off = hub.add((event, data) => send(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`), end);
        // ended while the hub replayed its recent events: do not stay registered
        if (!open) cleanup();
      },
      // the client went away: node-server cancels the body
      cancel() { cleanup(); },
    }, new ByteLengthQueuingStrategy({ highWaterMark: hub.o.maxQueuedBytes }));
    c.req.raw.signal?.addEventListener("abort", () => cleanup(), { once: true });
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
    });
  });
}
