// Prometheus metrics of one actor process: one registry (prom-client's), served on this process's own
// /metrics port (MOGILE_METRICS_PORT) and on NATS (`mogile.metrics.scrape`), so a gateway can serve
// the whole cluster's at once. Hot paths bind their labels once and only count and observe.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { Counter, Gauge, Histogram, collectDefaultMetrics, register, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from "prom-client";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { subjects } from "../../protocol/subjects.ts";
import { MetricsScrapeRequest, type MetricsScrapeReply } from "../../protocol/metrics.ts";
import { actorConfig, httpScheme, tlsServerOptions } from "./config.ts";
import type { Logger } from "./log.ts";

export const registry = register;

/** request latencies in seconds: sub-millisecond cache hits up to a slow 10 s command */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** requests that move a body (HTTP front doors, storage): up to a 5-minute transfer */
export const TRANSFER_BUCKETS = [...LATENCY_BUCKETS, 30, 60, 300];

// Declared once per process, whichever module asks first (a module loaded twice must not throw on
// a second registration of the same name).
export function counter<L extends string>(cfg: CounterConfiguration<L>): Counter<L> {
  return (registry.getSingleMetric(cfg.name) as Counter<L> | undefined) ?? new Counter(cfg);
}
export function gauge<L extends string>(cfg: GaugeConfiguration<L>): Gauge<L> {
  return (registry.getSingleMetric(cfg.name) as Gauge<L> | undefined) ?? new Gauge(cfg);
}
export function histogram<L extends string>(cfg: HistogramConfiguration<L>): Histogram<L> {
  return (registry.getSingleMetric(cfg.name) as Histogram<L> | undefined) ?? new Histogram(cfg);
}

/** Seconds since `t0` (a `performance.now()` reading): no allocation. */
export const secondsSince = (t0: number): number => (performance.now() - t0) / 1000;

const Config = z.object({
  /**
   * this process's /metrics port; unset or empty: none (its metrics still answer on NATS and through
   * the gateway's /metrics); 0: any free port (its URL is in the NATS scrape reply)
   */
  MOGILE_METRICS_PORT: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).max(65535).optional()),
  /** address the /metrics port listens on: loopback, as other machines read metrics through the gateway */
  MOGILE_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
});

export interface MetricsEndpoint {
  /** this process's /metrics URL, or null when it serves none */
  url: string | null;
  stop(): Promise<void>;
}

/**
 * Serve this process's metrics: the HTTP port (when configured) and the NATS scrape subject. A port
 * that cannot be bound is logged, not fatal: metrics never take a data path down with them.
 */
export async function startMetrics(o: { role: string; instance: string; nc: NatsConnection; log: Logger; env?: NodeJS.ProcessEnv }): Promise<MetricsEndpoint> {
  const cfg = actorConfig(Config, o.env);
  // process_* and nodejs_* (CPU, memory, event-loop delay, GC): once per process
  if (!registry.getSingleMetric("process_cpu_user_seconds_total")) collectDefaultMetrics({ register: registry });
  let server: http.Server | null = null;
  let url: string | null = null;
  if (cfg.MOGILE_METRICS_PORT !== undefined) {
    const tls = tlsServerOptions(o.env);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      req.resume();
      if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
      );
    };
    const s = tls ? https.createServer(tls, handler) : http.createServer(handler);
    try {
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(cfg.MOGILE_METRICS_PORT, cfg.MOGILE_METRICS_HOST, () => { s.off("error", reject); resolve(); });
      });
      server = s;
      const host = cfg.MOGILE_METRICS_HOST.includes(":") ? `[${cfg.MOGILE_METRICS_HOST}]` : cfg.MOGILE_METRICS_HOST;
      url = `${httpScheme(o.env)}://${host}:${(s.address() as AddressInfo).port}/metrics`;
      o.log.info("metrics listening", { url });
    } catch (err) {
      o.log.error("metrics port not served; metrics still answer on NATS", { port: cfg.MOGILE_METRICS_PORT, err });
    }
  }
  const sub = answerScrapes(o.nc, { role: o.role, instance: o.instance, url }, o.log);
  return {
    url,
    async stop() {
      sub.unsubscribe();
      if (server) await new Promise<void>((resolve) => { server!.close(() => resolve()); server!.closeAllConnections(); });
    },
  };
}

/** Answer every `mogile.metrics.scrape` request (no queue group: every process answers). */
function answerScrapes(nc: NatsConnection, who: { role: string; instance: string; url: string | null }, log: Logger): Subscription {
  return nc.subscribe(subjects.metricsScrape, {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      let text = true;
      try { text = MetricsScrapeRequest.parse(msg.data.length ? msg.json() : {}).text; } catch { /* malformed: the whole answer */ }
      const reply: MetricsScrapeReply = { ...who };
      (text ? registry.metrics() : Promise.resolve(undefined)).then((t) => {
        if (t !== undefined) {
          // a reply larger than the server's message limit would be refused: say so instead
          const max = nc.info?.max_payload ?? 1024 * 1024;
          if (Buffer.byteLength(t) + 512 > max) reply.error = `metrics text of ${Buffer.byteLength(t)} bytes exceeds the NATS message limit ${max}; scrape ${who.url ?? "the process's /metrics port"}`;
          else reply.text = t;
        }
        msg.respond(JSON.stringify(reply));
      }).catch((e: Error) => log.warn("metrics scrape failed", { err: e }));
    },
  });
}
