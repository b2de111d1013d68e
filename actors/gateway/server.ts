// The gateway's HTTP server and its limits: a slow or oversized client cannot hold a socket or memory
// for long. Settings come from the gateway's zod config (environment), parsed once.
import { z } from "zod";
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import https from "node:https";
import { tlsServerOptions } from "../runtime/config.ts";
import type { Hono } from "hono";
import type { GatewayEnv, Limits } from "./body.ts";

const ms = (dflt: number) => z.coerce.number().int().min(0).default(dflt);
const GiB = 1024 ** 3;

export const Config = z.object({
  /** HTTP port of the facade */
  MOGILE_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(7080),
  /** address to listen on */
  MOGILE_HTTP_HOST: z.string().default("127.0.0.1"),
  /** largest file upload in bytes (PUT …/files/{key}, streamed: memory stays flat); larger is 413 */
  MOGILE_HTTP_MAX_BODY_BYTES: z.coerce.number().int().positive().default(64 * GiB),
  /** largest JSON request body in bytes (read into memory); larger is 413 */
  MOGILE_HTTP_MAX_JSON_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  /** largest request head (request line and headers) in bytes; larger is 431 */
  MOGILE_HTTP_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).default(16 * 1024),
  /** ms a client has to send its whole request head; then 408 and the socket is closed */
  MOGILE_HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  /** ms to receive a whole request, body included; 0 = no limit (a large upload streams for long; the idle timeout still applies) */
  MOGILE_HTTP_REQUEST_TIMEOUT_MS: ms(0),
  /** ms a socket may go without a byte moving either way (a stalled upload, a download nobody reads); then it is closed */
  MOGILE_HTTP_IDLE_TIMEOUT_MS: ms(60_000),
  /** ms an idle keep-alive connection is kept between requests */
  MOGILE_HTTP_KEEPALIVE_TIMEOUT_MS: ms(5_000),
  /** ms a checked key is trusted before it is looked up again (a revocation drops it at once) */
  MOGILE_GATEWAY_KEY_CACHE_MS: ms(5_000),
  /** ms the domains' anonymous_read flags are trusted (a domain change drops them at once) */
  MOGILE_GATEWAY_DOMAIN_CACHE_MS: ms(5_000),
}).refine((c) => c.MOGILE_HTTP_REQUEST_TIMEOUT_MS === 0 || c.MOGILE_HTTP_HEADERS_TIMEOUT_MS <= c.MOGILE_HTTP_REQUEST_TIMEOUT_MS, {
  message: "MOGILE_HTTP_HEADERS_TIMEOUT_MS must not exceed MOGILE_HTTP_REQUEST_TIMEOUT_MS",
});
export type GatewayConfig = Readonly<z.infer<typeof Config>>;

export const limitsOf = (cfg: GatewayConfig): Limits => ({ maxBodyBytes: cfg.MOGILE_HTTP_MAX_BODY_BYTES, maxJsonBytes: cfg.MOGILE_HTTP_MAX_JSON_BYTES });

/** Listen with the configured limits; resolves once the port is bound. */
export function listen(app: Hono<GatewayEnv>, cfg: GatewayConfig): Promise<Server> {
  const tls = tlsServerOptions();
  return new Promise<Server>((resolve, reject) => {
    const s = serve({
      fetch: app.fetch,
      port: cfg.MOGILE_HTTP_PORT,
      hostname: cfg.MOGILE_HTTP_HOST,
      // TLS when the operator supplied a certificate (MOGILE_TLS_CERT, MOGILE_TLS_KEY)
      ...(tls ? { createServer: https.createServer } : {}),
      serverOptions: {
        ...tls,
        maxHeaderSize: cfg.MOGILE_HTTP_MAX_HEADER_BYTES,
        headersTimeout: cfg.MOGILE_HTTP_HEADERS_TIMEOUT_MS,
        requestTimeout: cfg.MOGILE_HTTP_REQUEST_TIMEOUT_MS,
        keepAliveTimeout: cfg.MOGILE_HTTP_KEEPALIVE_TIMEOUT_MS,
        // node checks the header and request timeouts on this interval (30 s by default): often
        // enough that a slow client is cut off close to its deadline
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(cfg.MOGILE_HTTP_HEADERS_TIMEOUT_MS / 4))),
      },
    }, () => resolve(s as Server)) as Server;
    s.once("error", reject);
    // no 'timeout' listener: node destroys a socket idle this long, mid-request or mid-response
    s.setTimeout(cfg.MOGILE_HTTP_IDLE_TIMEOUT_MS);
  });
}
