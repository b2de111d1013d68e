// The gateway actor: serves the HTTP facade; reaches the cluster only through NATS and storage HTTP.
import { z } from "zod";
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { MogileClient } from "../../protocol/client.ts";
import { createApp } from "./app.ts";

const Config = z.object({
  /** HTTP port of the facade */
  MOGILE_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(7080),
  /** address to listen on */
  MOGILE_HTTP_HOST: z.string().default("127.0.0.1"),
});

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const client = await MogileClient.connect({ nc: ctx.nc });
  const app = createApp(client, ctx.log);
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: cfg.MOGILE_HTTP_PORT, hostname: cfg.MOGILE_HTTP_HOST }, () => resolve(s as Server));
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  ctx.log.info("http facade listening", { url: `http://${cfg.MOGILE_HTTP_HOST}:${cfg.MOGILE_HTTP_PORT}` });
  const { stopped, done } = stoppedSignal();
  return {
    stopped,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      done();
    },
  };
}

export const spec: ActorSpec = { role: "gateway", mongo: false, start };
