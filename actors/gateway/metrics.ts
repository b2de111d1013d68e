// The gateway's metrics: its own routes (requests by route pattern, method and status; time until the
// response starts), and GET /metrics, the whole cluster's metrics for Prometheus (cluster-admin key).
import type { Hono, MiddlewareHandler } from "hono";
import { counter, histogram, LATENCY_BUCKETS } from "../runtime/metrics.ts";
import { authenticate, need, type Authenticator } from "./auth.ts";
import type { GatewayEnv } from "./body.ts";
import { clusterExposition, scrapeTargets, type Scrape } from "./scrape.ts";

const requests = counter({ name: "mogile_http_requests_total", help: "HTTP facade requests answered, by route pattern, method and status", labelNames: ["route", "method", "status"] as const });
const duration = histogram({ name: "mogile_http_request_duration_seconds", help: "Time from an HTTP facade request's arrival until its response starts (a download's body streams after)", labelNames: ["route", "method"] as const, buckets: LATENCY_BUCKETS });

/** Counts and times every request; the route label is hono's pattern (`/v1/domains/:domain`), never a key. */
export function httpMetrics(): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    // after the chain, routePath is the pattern of the handler that answered ("/*" for none: 404)
    const route = c.res.status === 404 && c.req.routePath.endsWith("*") ? "unmatched" : c.req.routePath;
    const method = c.req.method;
    requests.inc({ route, method, status: String(c.res.status) });
    duration.observe({ route, method }, (performance.now() - t0) / 1000);
  };
}

/** Where the aggregated metrics come from (the gateway's NATS scraper; a fake in unit tests). */
export interface MetricsSource { scrape(text?: boolean): Promise<Scrape> }

/**
 * GET /metrics: every actor process's metrics with `role` and `instance` labels (Prometheus: scrape
 * with `honor_labels: true`). GET /metrics/targets: Prometheus HTTP service discovery of each
 * process's own /metrics port. Both need a cluster-admin key.
 */
export function metricsRoutes(app: Hono<GatewayEnv>, auth: Authenticator, source: MetricsSource): void {
  app.get("/metrics", authenticate(auth), need.cluster(), async (c) => {
    const s = await source.scrape(true);
    return c.body(clusterExposition(s), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  app.get("/metrics/targets", authenticate(auth), need.cluster(), async (c) => c.json(scrapeTargets(await source.scrape(false))));
}
