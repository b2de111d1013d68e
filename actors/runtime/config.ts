// Configuration shared by every actor: one zod schema over the environment, parsed once and frozen.
import { readFileSync } from "node:fs";
import { z } from "zod";

const Common = z.object({
  /** NATS server URL(s), comma-separated */
  MOGILE_NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** MongoDB URL (a replica set in production; FerretDB locally) */
  MOGILE_MONGO_URL: z.string().default("mongodb://127.0.0.1:27017/?replicaSet=rs0"),
  /** database name inside the metadata server */
  MOGILE_DB: z.string().default("mogile"),
  /** instance label for logs (the launcher numbers copies of an actor) */
  MOGILE_INSTANCE: z.string().default(String(process.pid)),
  /** milliseconds an actor may spend draining on SIGTERM before it is forced to exit */
  MOGILE_STOP_GRACE_MS: z.coerce.number().int().positive().default(10_000),
});
export type CommonConfig = Readonly<z.infer<typeof Common>>;

export function commonConfig(env: NodeJS.ProcessEnv = process.env): CommonConfig {
  return Object.freeze(Common.parse(env));
}

/** Parse an actor's own schema over the environment, frozen. */
export function actorConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): Readonly<z.infer<S>> {
  return Object.freeze(schema.parse(env)) as Readonly<z.infer<S>>;
}

/**
 * The storage agents' and the gateway's scheme: https when the operator supplied a certificate
 * (MOGILE_TLS_CERT and MOGILE_TLS_KEY, given to every process of the cluster), else http.
 */
export const httpScheme = (env: NodeJS.ProcessEnv = process.env): "http" | "https" => (env.MOGILE_TLS_CERT ? "https" : "http");

/** The certificate and key servers present when TLS is on (MOGILE_TLS_CERT, MOGILE_TLS_KEY), else null. */
export function tlsServerOptions(env: NodeJS.ProcessEnv = process.env): { cert: Buffer; key: Buffer } | null {
  const cert = env.MOGILE_TLS_CERT, key = env.MOGILE_TLS_KEY;
  if (!cert && !key) return null;
  if (!cert || !key) throw new Error("MOGILE_TLS_CERT and MOGILE_TLS_KEY go together");
  return { cert: readFileSync(cert), key: readFileSync(key) };
}
