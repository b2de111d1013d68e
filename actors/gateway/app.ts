// The HTTP facade (hono): REST routes and POST /v1/rpc/{command} over the SDK. Bytes stream through.
import { Hono } from "hono";
import { MogileError, httpStatus } from "../../protocol/errors.ts";
import type { MogileClient } from "../../protocol/client.ts";
import type { Logger } from "../runtime/log.ts";
import type { GatewayEnv } from "./body.ts";
import { rpcRoutes } from "./rpc.ts";
import { adminRoutes } from "./admin.ts";
import { fileRoutes } from "./files.ts";

export function createApp(client: MogileClient, log: Logger): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  // the one place where a MogileFS error code becomes an HTTP status
  app.onError((err, c) => {
    const e = err instanceof MogileError ? err : new MogileError("failure", err.message);
    const status = httpStatus(e.code);
    if (status >= 500) log.warn("request failed", { method: c.req.method, path: c.req.path, code: e.code, err: e.message });
    return c.json(e.toJSON(), status as 400);
  });
  app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  app.get("/healthz", async (c) => {
    await client.rpc("noop", {}, 2_000);
    return c.json({ ok: true });
  });

  rpcRoutes(app, client);
  adminRoutes(app, client);
  fileRoutes(app, client);
  return app;
}
