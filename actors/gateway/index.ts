// The gateway actor: serves the HTTP facade; reaches the cluster only through NATS and storage HTTP.
import type { Server } from "node:http";
import { actorConfig, httpScheme } from "../runtime/config.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { MogileClient } from "../../protocol/client.ts";
import { subjects } from "../../protocol/subjects.ts";
import { createApp } from "./app.ts";
import { closeServer, watchKeys } from "../runtime/serving.ts";
import { Authenticator } from "./auth.ts";
import { Config, limitsOf, listen } from "./server.ts";
import { ClusterScraper } from "./scrape.ts";
import { DashboardHub } from "./dashboard.ts";

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const client = await MogileClient.connect({ nc: ctx.nc });
  const auth = new Authenticator(client, {
    clusterKey: clusterKey(),
    keyCacheMs: cfg.MOGILE_GATEWAY_KEY_CACHE_MS,
    domainCacheMs: cfg.MOGILE_GATEWAY_DOMAIN_CACHE_MS,
  });
  // a revoked key is refused at once, not after its cache entry expires
  const keyEvents = watchKeys(ctx.nc, (id) => auth.forgetKey(id));
  const domainEvents = ctx.nc.subscribe(subjects.namesChanged, { callback: () => auth.forgetDomains() });
  const metrics = new ClusterScraper(ctx.nc);
  // the dashboard's live feed: subscribed only while a dashboard stream is open
  const dashboard = new DashboardHub(client, metrics, (names, cb) => {
    const subs = names.map((s) => ctx.nc.subscribe(s, { callback: (_err, m) => cb(m.subject, m.data) }));
    return () => { for (const s of subs) s.unsubscribe(); };
  });
  const app = createApp(client, ctx.log, { auth, limits: limitsOf(cfg), metrics, dashboard });
  const server: Server = await listen(app, cfg);
  ctx.log.info("http facade listening", { url: `${httpScheme()}://${cfg.MOGILE_HTTP_HOST}:${cfg.MOGILE_HTTP_PORT}` });
  const { stopped, done } = stoppedSignal();
  return {
    stopped,
    async stop() {
      keyEvents.unsubscribe();
      domainEvents.unsubscribe();
      dashboard.close();
      await closeServer(server);
      done();
    },
  };
}

export const spec: ActorSpec = { role: "gateway", mongo: false, jetstream: false, start };
