// The HTTP facade (hono): REST routes and POST /v1/rpc/{command} over the SDK. Bytes stream through.
// Every /v1 route needs a key (see auth.ts) but the documentation (/v1/openapi.json, /v1/docs); /healthz and
// the dashboard page (/ui; its data under /ui/api needs a cluster-admin key) are open.
import { Hono } from "hono";
import { MogileError, httpStatus } from "../../protocol/errors.ts";
import type { MogileClient } from "../../protocol/client.ts";
import type { Logger } from "../runtime/log.ts";
import type { GatewayEnv, Limits } from "./body.ts";
import { authenticate, type Authenticator } from "./auth.ts";
import { rpcRoutes } from "./rpc.ts";
import { adminRoutes } from "./admin.ts";
import { fileRoutes } from "./files.ts";
import { httpMetrics, metricsRoutes, type MetricsSource } from "./metrics.ts";
import { docsRoutes } from "./openapi.ts";
import { DashboardHub, dashboardRoutes } from "./dashboard.ts";

export interface AppOptions {
  auth: Authenticator;
  limits: Limits;
  /** the cluster's metrics for GET /metrics (none: no such route) */
  metrics?: MetricsSource;
  /** the live dashboard's hub (none: one without the event feed, which refreshes on a timer only) */
  dashboard?: DashboardHub;
}

export function createApp(client: MogileClient, log: Logger, o: AppOptions): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  // the one place where a MogileFS error code becomes an HTTP status
  app.onError((err, c) => {
    const e = err instanceof MogileError ? err : new MogileError("failure", err.message);
    const status = httpStatus(e.code);
    if (status >= 500) log.warn("request failed", { method: c.req.method, path: c.req.path, code: e.code, err: e.message });
    const headers: Record<string, string> = {};
    if (status === 401) headers["www-authenticate"] = 'Bearer realm="mogile"';
    // a refused request may still be sending its body (an upload): do not read the rest of it
    if ((status === 401 || status === 403 || status === 413) && c.req.method !== "GET" && c.req.method !== "HEAD") headers.connection = "close";
    return c.json(e.toJSON(), status as 400, headers);
  });
  app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  app.use("*", httpMetrics());
  if (o.metrics) metricsRoutes(app, o.auth, o.metrics);
  dashboardRoutes(app, o.auth, o.dashboard ?? new DashboardHub(client, o.metrics));

  app.get("/healthz", async (c) => {
    await client.rpc("noop", {}, 2_000);
    return c.json({ ok: true });
  });

  app.use("/v1/*", async (c, next) => {
    c.set("limits", o.limits);
    await next();
  });
  app.use("/v1/*", authenticate(o.auth));
  rpcRoutes(app, client);
  adminRoutes(app, client);
  fileRoutes(app, client);
  docsRoutes(app);
  return app;
}
