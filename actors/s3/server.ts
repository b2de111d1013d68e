// The S3 API's HTTP server: path-style requests (`/bucket/key`), each authenticated with AWS
// Signature V4 (header or presigned query; unsigned, signed and aws-chunked payloads) against the
// gateway keys, then routed by method, bucket, key and sub-resource. Bodies stream through.
import http from "node:http";
import https from "node:https";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { MogileClient } from "../../protocol/client.ts";
import type { Logger } from "../runtime/log.ts";
import { tlsServerOptions } from "../runtime/config.ts";
import type { S3Keys } from "./auth.ts";
import { S3Error, fromMogile, s3err } from "./errors.ts";
import { sendError, splitPath, type S3Request } from "./request.ts";
import { parseAuth, verify, SigV4Error } from "./sigv4.ts";
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from "./objects.ts";
import { abortUpload, completeUpload, createUpload, listParts, listUploads, uploadPart, MPU_DOMAIN } from "./multipart.ts";
import { s3RequestDone } from "./metrics.ts";
import { bucketLocation, createBucket, deleteBucket, headBucket, listBuckets, listObjects } from "./buckets.ts";

const ms = (dflt: number) => z.coerce.number().int().min(0).default(dflt);
const GiB = 1024 ** 3;

export const Config = z.object({
  /** port of the S3 API */
  MOGILE_S3_PORT: z.coerce.number().int().min(0).max(65535).default(7070),
  /** address to listen on */
  MOGILE_S3_HOST: z.string().default("127.0.0.1"),
  /** the region clients sign for (any region is accepted in signatures; this one is reported) */
  MOGILE_S3_REGION: z.string().regex(/^[a-z0-9-]{1,32}$/).default("us-east-1"),
  /** the largest object one PUT may store (S3's own limit is 5 GiB) */
  MOGILE_S3_MAX_OBJECT_BYTES: z.coerce.number().int().positive().default(5 * GiB),
  /** the smallest part of a multipart upload but the last (S3's is 5 MiB) */
  MOGILE_S3_MIN_PART_BYTES: z.coerce.number().int().min(1).default(5 * 1024 * 1024),
  /** seconds an unfinished multipart upload is kept; then its parts are removed */
  MOGILE_S3_MULTIPART_TTL_SEC: z.coerce.number().int().min(1).default(7 * 24 * 3600),
  /** how often abandoned multipart uploads are looked for (ms) */
  MOGILE_S3_MULTIPART_SWEEP_MS: z.coerce.number().int().min(100).default(600_000),
  /** ms a looked-up key (and its secret) is trusted; a change to the key drops it at once */
  MOGILE_S3_KEY_CACHE_MS: ms(5_000),
  MOGILE_S3_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  MOGILE_S3_IDLE_TIMEOUT_MS: ms(60_000),
  MOGILE_S3_KEEPALIVE_TIMEOUT_MS: ms(5_000),
  MOGILE_S3_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).default(16 * 1024),
});
export type S3Config = Readonly<z.infer<typeof Config>>;

export interface S3Deps { client: MogileClient; keys: S3Keys; log: Logger; region: string; maxObjectBytes: number; startedAt: Date; clusterKey: Buffer; minPartBytes: number }

/** sub-resources S3 has and mogile does not (answered NotImplemented, nothing changed) */
const UNSUPPORTED = ["acl", "policy", "policyStatus", "versioning", "versions", "lifecycle", "encryption", "object-lock", "retention", "legal-hold", "tagging",
  "cors", "website", "logging", "notification", "replication", "accelerate", "requestPayment", "ownershipControls", "publicAccessBlock", "torrent",
  "restore", "select", "analytics", "inventory", "metrics", "intelligent-tiering", "attributes"];

export function s3Handler(d: S3Deps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? "/";
    const qi = url.indexOf("?");
    const r: S3Request = {
      req, res, id: randomBytes(8).toString("hex").toUpperCase(), method: req.method ?? "GET",
      rawPath: qi < 0 ? url : url.slice(0, qi), rawQuery: qi < 0 ? "" : url.slice(qi + 1),
      // a literal "+" is a plus, as the signature reads it (clients send a space as %20)
      query: new URLSearchParams(qi < 0 ? "" : url.slice(qi + 1).replace(/\+/g, "%2B")), caller: { kind: "anonymous" },
    };
    const started = Date.now();
    const t0 = performance.now();
    handle(d, r).catch((err: unknown) => {
      const e = err instanceof SigV4Error ? sigError(err) : fromMogile(err, r.bucket, r.key);
      if (e.status >= 500 && e.status !== 501) d.log.error("s3 request failed", { method: r.method, path: r.rawPath, id: r.id, code: e.code, err: e.message });
      sendError(r, e);
    }).finally(() => {
      s3RequestDone(r, t0);
      if (Date.now() - started > 10_000) d.log.info("slow s3 request", { method: r.method, path: r.rawPath, ms: Date.now() - started });
    });
  };
}

function sigError(e: SigV4Error): S3Error {
  const status = e.code === "AuthorizationHeaderMalformed" || e.code === "AuthorizationQueryParametersError" || e.code === "InvalidArgument"
    || e.code === "InvalidRequest" || e.code === "IncompleteBody" || e.code === "BadDigest" || e.code === "XAmzContentSHA256Mismatch" ? 400 : 403;
  return new S3Error(status, e.code, e.message);
}

async function handle(d: S3Deps, r: S3Request): Promise<void> {
  const parts = splitPath(r.rawPath);
  if (!parts) throw s3err.invalidArgument("the request path is not valid percent-encoding");
  r.bucket = parts.bucket;
  r.key = parts.key;
  await authenticate(d, r);
  const { bucket, key } = r;
  const q = r.query;
  const has = (names: string[]) => names.find((n) => q.has(n));
  const unsupported = has(UNSUPPORTED);
  if (unsupported) throw s3err.notImplemented(`the ${unsupported} sub-resource`);
  if (bucket === undefined) {
    if (r.method === "GET") return listBuckets(d, r);
    throw s3err.methodNotAllowed(r.method);
  }
  // the multipart domain is not a bucket
  if (bucket === MPU_DOMAIN) throw s3err.noSuchBucket(bucket);
  if (key === undefined) {
    switch (r.method) {
      case "GET":
        if (q.has("uploads")) return listUploads(d, r, bucket);
        if (q.has("location")) return bucketLocation(d, r, bucket);
        return listObjects(d, r, bucket, q.get("list-type") === "2");
      case "HEAD": return headBucket(d, r, bucket);
      case "PUT": return createBucket(d, r, bucket);
      case "DELETE": return deleteBucket(d, r, bucket);
      case "POST":
        if (q.has("delete")) return deleteObjects(d, r, bucket);
        throw s3err.methodNotAllowed("POST");
      default: throw s3err.methodNotAllowed(r.method);
    }
  }
  const upload = q.has("uploadId");
  switch (r.method) {
    case "PUT":
      if (upload || q.has("partNumber")) return uploadPart(d, r, bucket, key);
      if (r.req.headers["x-amz-copy-source"] !== undefined) return copyObject(d, r, bucket, key);
      return putObject(d, r, bucket, key);
    case "POST":
      if (q.has("uploads")) return createUpload(d, r, bucket, key);
      if (upload) return completeUpload(d, r, bucket, key);
      throw s3err.methodNotAllowed("POST");
    case "GET":
      if (upload) return listParts(d, r, bucket, key);
      return getObject(d, r, bucket, key);
    case "HEAD": return getObject(d, r, bucket, key);
    case "DELETE":
      if (upload) return abortUpload(d, r, bucket, key);
      return deleteObject(d, r, bucket, key);
    default: throw s3err.methodNotAllowed(r.method);
  }
}

/** SigV4 (header or presigned query) → the key; no auth at all → anonymous. */
async function authenticate(d: S3Deps, r: S3Request): Promise<void> {
  const sr = { method: r.method, rawPath: r.rawPath, rawQuery: r.rawQuery, headers: r.req.headers };
  const p = parseAuth(sr);
  if (!p) return;
  const key = await d.keys.key(p.accessKeyId);
  const v = verify(sr, p, key.secret);
  r.caller = { kind: "key", id: key.id, cluster_admin: key.cluster_admin, scopes: key.scopes };
  r.payloadHash = p.payloadHash;
  r.chunkSigning = { signingKey: v.signingKey, seedSignature: v.seedSignature, amzDate: p.amzDate, scope: `${p.date}/${p.region}/${p.service}/aws4_request` };
}

/** Listen with the configured limits (TLS when the operator gave a certificate). */
export function listenS3(handler: http.RequestListener, cfg: S3Config): Promise<http.Server> {
  const tls = tlsServerOptions();
  const opts: http.ServerOptions = {
    maxHeaderSize: cfg.MOGILE_S3_MAX_HEADER_BYTES,
    headersTimeout: cfg.MOGILE_S3_HEADERS_TIMEOUT_MS,
    requestTimeout: 0,
    keepAliveTimeout: cfg.MOGILE_S3_KEEPALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
  };
  const server = tls ? https.createServer({ ...tls, ...opts }, handler) : http.createServer(opts, handler);
  server.setTimeout(cfg.MOGILE_S3_IDLE_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.MOGILE_S3_PORT, cfg.MOGILE_S3_HOST, () => resolve(server));
  });
}
