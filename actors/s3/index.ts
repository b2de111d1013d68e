// The S3 actor: the S3 API over the same namespace as the classic protocol and the HTTP facade
// (bucket = domain, key = key, S3 access keys = gateway keys). Reaches the cluster only through NATS
// and storage HTTP, like the gateway.
import { actorConfig, httpScheme } from "../runtime/config.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { MogileClient } from "../../protocol/client.ts";
import { subjects } from "../../protocol/subjects.ts";
import { S3Keys } from "./auth.ts";
import { Config, listenS3, s3Handler, type S3Deps } from "./server.ts";
import { sweepUploads } from "./multipart.ts";
import { closeServer, watchKeys } from "../runtime/serving.ts";

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const client = await MogileClient.connect({ nc: ctx.nc });
  const keys = new S3Keys(client, clusterKey(), cfg.MOGILE_S3_KEY_CACHE_MS);
  // a revoked key is refused at once, not after its cache entry expires
  const keyEvents = watchKeys(ctx.nc, (id) => keys.forget(id));
  const domainEvents = ctx.nc.subscribe(subjects.namesChanged, { callback: () => keys.forgetDomains() });
  const deps: S3Deps = {
    client, keys, log: ctx.log, region: cfg.MOGILE_S3_REGION, maxObjectBytes: cfg.MOGILE_S3_MAX_OBJECT_BYTES, startedAt: new Date(),
    clusterKey: clusterKey(), minPartBytes: cfg.MOGILE_S3_MIN_PART_BYTES,
  };
  const server = await listenS3(s3Handler(deps), cfg);
  // abandoned multipart uploads: their parts are removed once older than the TTL
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepUploads(deps, cfg.MOGILE_S3_MULTIPART_TTL_SEC * 1000)
      .catch((err) => ctx.log.warn("multipart sweep failed", { err: (err as Error).message }))
      .finally(() => { sweeping = false; });
  }, cfg.MOGILE_S3_MULTIPART_SWEEP_MS);
  ctx.log.info("s3 api listening", { url: `${httpScheme()}://${cfg.MOGILE_S3_HOST}:${cfg.MOGILE_S3_PORT}`, region: cfg.MOGILE_S3_REGION });
  const { stopped, done } = stoppedSignal();
  return {
    stopped,
    async stop() {
      clearInterval(sweep);
      keyEvents.unsubscribe();
      domainEvents.unsubscribe();
      await closeServer(server);
      done();
    },
  };
}

export const spec: ActorSpec = { role: "s3", mongo: false, jetstream: false, start };
