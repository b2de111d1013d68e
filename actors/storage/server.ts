// The storage node's HTTP file server (mogstored): PUT/GET/HEAD/DELETE on MogileFS fid paths,
// over the durable file store (files.ts), with signed-URL checks (access.ts) and socket limits.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { createReadStream } from "node:fs";
import { open, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createHash } from "node:crypto";
import { tlsServerOptions } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { grantOf, isProtected, refusal, PROTECTED_HEADER } from "./access.ts";
import { parseChain, signReceipt, COPIES_HEADER, RECEIPT_HEADER } from "../runtime/chain.ts";
import { storeAndForward } from "./chain.ts";
import { composedBody, isCompose } from "./compose.ts";
import type { RegisteredSources } from "./sources.ts";
import type { Readable } from "node:stream";
import { storageRequestDone } from "./metrics.ts";
import { HASHES, SMALL_BODY, StorageError, isHashName, mkdirBelowDevice, type FileStore } from "./files.ts";
import { deviceUsage, formatUsage } from "./usage.ts";

/** a refused PUT with a body up to this size is read to its end, so the connection stays usable */
const DRAINED_REFUSAL = 64 * 1024;

function send(res: ServerResponse, status: number, body?: string, headers: http.OutgoingHttpHeaders = {}) {
  if (res.headersSent) { res.destroy(); return; }
  const text = body === undefined ? "" : body + "\n";
  res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Parses one `bytes=a-b` range against a size; "invalid" = unsatisfiable; null = serve it all. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | "invalid" | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null; // multi-range or unknown unit: RFC 9110 lets us ignore Range
  const [, a, b] = m;
  if (a === "" && b === "") return null;
  let start: number, end: number;
  if (a === "") {
    const n = Number(b);
    if (n === 0) return "invalid";
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== "" && Number(b) < start) return null; // not a valid range-spec: ignore the header
  }
  if (start >= size) return "invalid";
  return { start, end };
}

/** the monitor's probe files (MogileFS: /dev<N>/test-write/test-write-<0..99>) */
const TEST_WRITE = /^\/dev([1-9][0-9]{0,9})\/test-write\/test-write-([0-9]{1,2})$/;
/** mogstored's per-device usage file, read by `mogadm check` and MogileFS's monitor */
const USAGE = /^\/dev([1-9][0-9]{0,9})\/usage$/;

/**
 * What the MogileFS tools read without a signature, as they read it from mogstored: `GET /` (is
 * the node up? mogadm check wants a 2xx) and `GET /dev<N>/usage`. Neither holds file data; both are
 * read-only. Returns false for any other path.
 */
async function toolPath(req: IncomingMessage, res: ServerResponse, fs: FileStore, uri: string): Promise<boolean> {
  const usage = USAGE.exec(uri);
  if (uri !== "/" && !(usage && fs.devids.has(Number(usage[1])))) return false;
  req.resume();
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "method not allowed", { allow: "GET, HEAD" });
    return true;
  }
  if (!usage) {
    send(res, 200, `mogile storage node: ${[...fs.devids].sort((a, b) => a - b).map((d) => `dev${d}`).join(" ")}`);
    return true;
  }
  // an unmounted device has no usage to report (mogstored: no usage file): 503, as for its files
  const devid = Number(usage[1]);
  await fs.assertMounted(devid);
  const text = formatUsage(await deviceUsage(fs.root, devid));
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
  return true;
}

/** PUT or GET a small probe file, so the monitor can tell a device that takes writes from one that does not. */
async function testWrite(req: IncomingMessage, res: ServerResponse, fs: FileStore, devid: number, file: string): Promise<void> {
  try {
    await fs.assertMounted(devid);
  } catch (err) {
    req.resume();
    throw err;
  }
  if (req.method === "PUT") {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of req) { n += c.length; if (n > 4096) return send(res, 413, "probe bodies are small"); parts.push(c); }
    await mkdirBelowDevice(fs.root, path.dirname(file));
    const fh = await open(file, "w");
    try { await fh.writeFile(Buffer.concat(parts)); await fh.sync(); } finally { await fh.close(); }
    return send(res, 201, "ok");
  }
  if (req.method === "GET") {
    req.resume();
    const fh = await open(file, "r").catch(() => null);
    if (!fh) return send(res, 404, "not found");
    try {
      const body = await fh.readFile();
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
      res.end(body);
      return;
    } finally { await fh.close(); }
  }
  req.resume();
  return send(res, 405, "method not allowed");
}

/** Limits that keep a slow or hostile client from holding sockets forever (all in ms but the size). */
export interface ServerLimits {
  /** the whole request head must arrive within this */
  headersTimeoutMs: number;
  /** a socket with no byte moving either way this long is closed (bounds slow bodies, not big ones) */
  idleTimeoutMs: number;
  /** a cap on a whole request, body included; 0 = none (uploads of many GiB take long) */
  requestTimeoutMs: number;
  /** an idle keep-alive connection is closed after this */
  keepAliveTimeoutMs: number;
  /** request head size limit (bytes); larger heads get 431 */
  maxHeaderBytes: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 20_000, idleTimeoutMs: 120_000, requestTimeoutMs: 0, keepAliveTimeoutMs: 65_000, maxHeaderBytes: 16 * 1024,
};

export interface FileServerOptions {
  /** the cluster key: PUT and DELETE URLs, and reads of protected files, must be signed with it */
  key: Buffer;
  limits?: Partial<ServerLimits>;
  /** where compose PUTs may read from (null until the node is registered) */
  sources?: () => RegisteredSources | null;
}

export function createFileServer(fs: FileStore, log: Logger, o: FileServerOptions): http.Server {
  const { key } = o;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const [rawPath, query = ""] = (req.url ?? "/").split("?", 2);
    let uri: string;
    try {
      uri = decodeURIComponent(rawPath);
    } catch {
      req.resume();
      return send(res, 400, "malformed percent-encoding in path");
    }
    if (await toolPath(req, res, fs, uri)) return;
    const probe = TEST_WRITE.exec(uri);
    if (probe && fs.devids.has(Number(probe[1]))) return testWrite(req, res, fs, Number(probe[1]), path.join(fs.root, uri));
    const target = fs.resolve(uri);
    if (!target) {
      req.resume();
      return send(res, uri.includes("..") ? 400 : 404, `not a fid path on this node: ${uri}`);
    }
    // an unmounted device is neither written nor read: 503, so readers try another copy and
    // deleters retry later, instead of a 404 that would mean "gone"
    try {
      await fs.assertMounted(target.devid);
    } catch (err) {
      req.resume();
      throw err;
    }
    const q = query ? new URLSearchParams(query) : null;
    const grant = grantOf(key, req, target.devid, target.fid, q);
    // a refused upload's body is read only when small (the client then surely sees the answer);
    // past that the connection closes after the answer
    const forbid = (status = 403, text = refusal(req.method ?? "", grant)) => {
      const cl = Number(req.headers["content-length"] ?? NaN);
      if (req.method === "PUT" && !req.complete && !(cl <= DRAINED_REFUSAL)) return send(res, status, text, { connection: "close" });
      req.resume();
      return send(res, status, text);
    };
    // PUT and DELETE need a valid grant; a read needs one only for a protected file (the query of
    // a public file's URL is ignored, as MogileFS does)
    const granted = grant?.ok === true;
    switch (req.method) {
      case "PUT": {
        if (!grant?.ok) return forbid();
        // a compose PUT: the body is a signed list of sources whose bytes make the file
        const composed = isCompose(req) ? await composedBody(req, key, target.devid, target.fid, o.sources?.() ?? null) : null;
        const cl = composed ? String(composed.length) : req.headers["content-length"];
        const expected = cl === undefined ? undefined : Number(cl);
        if (grant.maxLength !== undefined && expected !== undefined && expected > grant.maxLength) {
          return forbid(413, `body of ${expected} bytes is longer than the ${grant.maxLength} this URL allows`);
        }
        // an early refusal before a big body is read; the link() in writeDurably is what
        // guarantees it (and all a small body needs: a stat per file costs more than it saves)
        if (!(expected !== undefined && expected <= SMALL_BODY) && await stat(target.file).then(() => true, () => false)) {
          return forbid(409, "conflict: this fid is stored here already; a PUT never replaces it");
        }
        // the digest is computed only when asked (classes with a hashtype): x-mogile-hashtype: SHA-256
        const asked = req.headers["x-mogile-hashtype"];
        const alg = typeof asked === "string" && asked !== "" && asked !== "NONE" ? asked : undefined;
        if (alg !== undefined && !isHashName(alg)) {
          req.resume();
          return send(res, 400, `unknown hash type ${alg}`);
        }
        // chain replication: the devices this body goes on to (signed by the tracker with the URL)
        const hops = grant.chain ? parseChain(grant.chain) : [];
        if (!hops) return forbid(400, "malformed chain in the signed URL");
        const body: Readable = composed?.stream ?? req;
        const { written: w, copies } = await storeAndForward(fs, log, body, {
          file: target.file, devid: target.devid, fid: target.fid, expected, digest: alg ? { hash: alg } : undefined,
          opts: { maxLength: grant.maxLength, protect: grant.protect }, hops: hops.filter((h) => h.devid !== target.devid), key,
        });
        // the receipt lets create_close record every copy without calling back to check them
        const receipt = signReceipt(key, target.fid, { devids: copies, length: w.length, ...(w.digest ? { digest: w.digest } : {}) });
        return send(res, 201, `stored ${w.length} bytes`, {
          "x-mogile-length": String(w.length), ...(w.digest ? { "x-mogile-digest": w.digest } : {}),
          [COPIES_HEADER]: copies.join(","), [RECEIPT_HEADER]: receipt,
        });
      }
      case "GET":
      case "HEAD": {
        const st = await stat(target.file).catch(() => null);
        if (!st || !st.isFile()) return send(res, 404, "not found");
        const marked = isProtected(st.mode);
        if (marked && !granted) return forbid();
        const range = parseRange(req.headers.range, st.size);
        const digest = q?.get("digest") ?? null;
        if (digest !== null && req.method === "GET") {
          if (!isHashName(digest)) return send(res, 400, `unknown digest ${digest}`);
          const known = fs.digests.lookup(target.file, digest, st);
          if (known) return send(res, 200, known);
          const h = createHash(HASHES[digest]);
          await pipeline(createReadStream(target.file, { highWaterMark: 1 << 20 }), h);
          return send(res, 200, `${digest}:${h.digest("hex")}`);
        }
        if (range === "invalid") return send(res, 416, "range not satisfiable", { "content-range": `bytes */${st.size}` });
        const start = range?.start ?? 0;
        const end = range?.end ?? st.size - 1;
        const headers: http.OutgoingHttpHeaders = {
          "content-type": "application/octet-stream",
          "content-length": Math.max(0, end - start + 1),
          "accept-ranges": "bytes",
          "last-modified": st.mtime.toUTCString(),
        };
        // a pulling storage agent keeps its copy protected too
        if (marked) headers[PROTECTED_HEADER] = "1";
        if (range) headers["content-range"] = `bytes ${start}-${end}/${st.size}`;
        res.writeHead(range ? 206 : 200, headers);
        if (req.method === "HEAD" || st.size === 0) return res.end();
        if (end - start + 1 <= SMALL_BODY) {
          // one read for small files: far cheaper than a stream
          const fh = await open(target.file, "r");
          try {
            const buf = Buffer.allocUnsafe(end - start + 1);
            const { bytesRead } = await fh.read(buf, 0, buf.length, start);
            return res.end(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
          } finally {
            await fh.close();
          }
        }
        await pipeline(createReadStream(target.file, { start, end, highWaterMark: 1 << 20 }), res);
        return;
      }
      case "DELETE": {
        if (!granted) return forbid();
        try {
          await unlink(target.file);
          return send(res, 204);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") return send(res, 404, "not found");
          throw err;
        }
      }
      default:
        req.resume();
        return send(res, 405, "method not allowed", { allow: "GET, HEAD, PUT, DELETE" });
    }
  };
  const limits = { ...DEFAULT_LIMITS, ...o.limits };
  const tls = tlsServerOptions();
  const options: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // how often node looks for requests past those timeouts (its default, 30 s, would let a
    // short headers timeout run far over)
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t0 = performance.now();
    handle(req, res).catch((err) => {
      // logged without its query: a signature in a log could be replayed until it expires
      const url = req.url?.split("?")[0];
      const status = err instanceof StorageError ? err.status : (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE" ? 400 : 500;
      // 503 (an unmounted device) is reported once by the agent, not per request
      if (status >= 500 && status !== 503) log.error("storage request failed", { method: req.method, url, err });
      else log.warn("storage request refused", { method: req.method, url, status, err });
      send(res, status, String(err instanceof Error ? err.message : err));
    }).finally(() => storageRequestDone(req, res, t0));
  };
  // TLS when the operator supplied a certificate (MOGILE_TLS_CERT, MOGILE_TLS_KEY)
  const server: http.Server = tls ? https.createServer({ ...options, ...tls }, onRequest) : http.createServer(options, onRequest);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // socket inactivity, not a total: a big upload or download streams as long as bytes move
  server.timeout = limits.idleTimeoutMs;
  return server;
}
