// The storage node's HTTP file server (mogstored): PUT/GET/HEAD/DELETE on MogileFS fid paths.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { tlsServerOptions } from "../runtime/config.ts";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, link, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { randomBytes, createHash, type Hash } from "node:crypto";
import { parseFidPath } from "../../protocol/paths.ts";
import type { Logger } from "../runtime/log.ts";
import { deviceDir, type MountTable } from "./mount.ts";
import { grantOf, isProtected, refusal, PROTECTED_HEADER, PROTECTED_MODE, PUBLIC_MODE } from "./access.ts";

export interface FileStore {
  root: string;
  devids: ReadonlySet<number>;
  /** absolute file path for a canonical URI on one of our devices, else null */
  resolve(uri: string): { devid: number; fid: number; file: string } | null;
  /**
   * Stream `src` into `file` durably: temp file, fsync, then link (or, with `replace`, rename) into
   * place. With `hash`, the digest is computed while streaming; with `expect` too, a body whose
   * digest differs never gets the fid's name.
   */
  writeDurably(file: string, src: Readable, expectedLength?: number, digest?: DigestOptions, opts?: WriteOptions): Promise<Written>;
  /** digests computed on write (or on an earlier ?digest= read), valid while the file is unchanged */
  digests: DigestCache;
  /** throws a 503 StorageError unless the device is mounted (its directory holds its marker) */
  assertMounted(devid: number): Promise<void>;
}

export interface DigestOptions { hash: HashName; /** `ALG:hex` the body must have */ expect?: string }
export interface WriteOptions {
  /** a body longer than this is refused (413) and nothing is stored */
  maxLength?: number;
  /** store the file protected: its reads need a signed URL */
  protect?: boolean;
  /**
   * replace a file already there (replica pulls: the cluster's own verified copy). Without it an
   * existing file is never replaced: 409, atomically (link, not check-then-rename).
   */
  replace?: boolean;
}
export interface Written { length: number; /** `ALG:hex` when a hash was asked for */ digest?: string }

/** MogileFS hash names → node:crypto algorithms */
export const HASHES = { "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256" } as const;
export type HashName = keyof typeof HASHES;
export const isHashName = (s: string): s is HashName => Object.hasOwn(HASHES, s);

/** `ALG:hex` with the algorithm as named and the hex in lower case */
export const normalizeDigest = (d: string) => {
  const i = d.indexOf(":");
  return i < 0 ? d : `${d.slice(0, i).toUpperCase()}:${d.slice(i + 1).toLowerCase()}`;
};

/**
 * Remembers the digests computed while writing, keyed on the file's identity (inode, size, mtime),
 * so the `GET ?digest=` that create_close sends right after a hashed PUT costs no re-read. Entries
 * live only a minute: a later check (fsck) must read the bytes, since bit rot keeps the mtime.
 */
export class DigestCache {
  private map = new Map<string, { ino: number; size: number; mtimeMs: number; digest: string; at: number }>();
  constructor(private readonly max = 10_000, private readonly ttlMs = 60_000) {}
  async remember(file: string, alg: HashName, digest: string): Promise<void> {
    const st = await stat(file).catch(() => null);
    if (!st) return;
    const k = `${alg} ${file}`;
    this.map.delete(k);
    this.map.set(k, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, digest, at: Date.now() });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  lookup(file: string, alg: HashName, st: { ino: number; size: number; mtimeMs: number }): string | null {
    const hit = this.map.get(`${alg} ${file}`);
    if (!hit || Date.now() - hit.at > this.ttlMs) return null;
    return hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs ? hit.digest : null;
  }
}

export function fileStore(root: string, devids: number[], mounts: MountTable): FileStore {
  const devs = new Set(devids);
  const madeDirs = new Set<string>();
  const digests = new DigestCache();
  return {
    root,
    devids: devs,
    digests,
    async assertMounted(devid) {
      const m = await mounts.check(devid);
      if (m.mounted) return;
      // a remounted disk starts empty: the fid directories made before are gone
      for (const d of madeDirs) if (d.startsWith(deviceDir(root, devid) + path.sep)) madeDirs.delete(d);
      throw new StorageError(503, `device dev${devid} is not mounted: ${m.reason}`);
    },
    resolve(uri) {
      const p = parseFidPath(uri);
      if (!p || !devs.has(p.devid)) return null;
      return { ...p, file: path.join(root, uri) };
    },
    async writeDurably(file, src, expectedLength, digest, opts = {}) {
      const dir = path.dirname(file);
      if (!madeDirs.has(dir)) {
        await mkdirBelowDevice(root, dir);
        madeDirs.add(dir);
      }
      const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
      const hash = digest ? createHash(HASHES[digest.hash]) : null;
      // checked between fsync and rename: a body with the wrong digest never gets the fid's name
      const check = () => {
        if (!hash || !digest) return undefined;
        const got = `${digest.hash}:${hash.digest("hex")}`;
        if (digest.expect && normalizeDigest(digest.expect) !== got) throw new StorageError(409, `digest mismatch: expected ${digest.expect}, got ${got}`);
        return got;
      };
      let written: Written;
      try {
        written = await write();
      } catch (err) {
        // the directory went away under us (device unmounted): make it again next time, and re-check the mount
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          madeDirs.delete(dir);
          mounts.invalidate(Number(path.relative(root, dir).split(path.sep)[0].slice("dev".length)));
        }
        throw err;
      }
      if (digest && written.digest) await digests.remember(file, digest.hash, written.digest);
      return written;

      async function write(): Promise<Written> {
        const max = opts.maxLength ?? Infinity;
        if (expectedLength !== undefined && expectedLength > max) throw new StorageError(413, `body of ${expectedLength} bytes is longer than the ${max} this URL allows`);
        if (expectedLength !== undefined && expectedLength <= SMALL_BODY) return writeSmall(src, tmp, file, expectedLength, hash, check, opts);
        // flush: the descriptor is fsynced before close, and pipeline resolves only after close
        const ws = createWriteStream(tmp, { flush: true, highWaterMark: 1 << 20 });
        try {
          if (hash || max !== Infinity) {
            let n = 0;
            await pipeline(src, async function* (chunks: AsyncIterable<Buffer>) {
              for await (const c of chunks) {
                n += c.length;
                if (n > max) throw new StorageError(413, `body longer than the ${max} bytes this URL allows`);
                hash?.update(c);
                yield c;
              }
            }, ws);
          } else await pipeline(src, ws);
          if (expectedLength !== undefined && ws.bytesWritten !== expectedLength) {
            throw new StorageError(400, `short body: got ${ws.bytesWritten} of ${expectedLength} bytes`);
          }
          const d = check();
          await place(tmp, file, opts);
          return { length: ws.bytesWritten, digest: d };
        } catch (err) {
          ws.destroy();
          await unlink(tmp).catch(() => {});
          throw err;
        }
      }
    },
  };
}

/**
 * Make a fid directory one level at a time below its device directory, which must already exist:
 * a recursive mkdir would recreate the mount point of a disk that went away (and then fill the
 * root filesystem). A missing device directory is a 503, as for an unmounted device.
 */
async function mkdirBelowDevice(root: string, dir: string): Promise<void> {
  const [dev, ...parts] = path.relative(root, dir).split(path.sep);
  let at = path.join(root, dev);
  for (const part of parts) {
    at = path.join(at, part);
    try {
      await mkdir(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      if (code === "ENOENT" || code === "ENOTDIR") throw new StorageError(503, `device ${dev} is not mounted: ${path.join(root, dev)} is missing`);
      throw err;
    }
  }
}

/** a refused PUT with a body up to this size is read to its end, so the connection stays usable */
const DRAINED_REFUSAL = 64 * 1024;

/** bodies up to this size are gathered (bounded by their declared length) and written in one call */
const SMALL_BODY = 256 * 1024;

async function writeSmall(src: Readable, tmp: string, file: string, expected: number, hash: Hash | null, check: () => string | undefined, opts: WriteOptions): Promise<Written> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of src) {
    n += chunk.length;
    if (n > expected) throw new StorageError(400, `body longer than its declared ${expected} bytes`);
    parts.push(chunk);
  }
  if (n !== expected) throw new StorageError(400, `short body: got ${n} of ${expected} bytes`);
  for (const p of parts) hash?.update(p);
  const digest = check(); // before anything touches the disk
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(parts.length === 1 ? parts[0] : Buffer.concat(parts, n));
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await place(tmp, file, opts);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return { length: n, digest };
}

/**
 * Give a written, fsynced temp file the fid's name, only after the fsync, so a crash never exposes
 * a partial file under it. The mode says whether reads need a signed URL (set explicitly: the
 * umask must not decide). Without `replace`, link() refuses an existing file atomically (EEXIST):
 * a fid's bytes are written once; a crash between link and unlink leaves a temp file the next
 * start sweeps away.
 */
async function place(tmp: string, file: string, opts: WriteOptions): Promise<void> {
  await chmod(tmp, opts.protect ? PROTECTED_MODE : PUBLIC_MODE);
  if (opts.replace) {
    await rename(tmp, file);
  } else {
    try {
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new StorageError(409, "conflict: this fid is stored here already; a PUT never replaces it");
      throw err;
    }
    await unlink(tmp);
  }
  await syncDir(path.dirname(file));
}

/** fsync a directory, so a rename into it survives power loss */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try { await fh.sync(); } finally { await fh.close(); }
}

/** Remove temp files a crash left behind (no upload is in flight before the node serves). */
export async function sweepTempFiles(root: string, log: Logger): Promise<number> {
  let removed = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 5) await walk(p, depth + 1);
      else if (e.isFile() && /\.fid\.tmp-[0-9a-f]+$/.test(e.name)) { await unlink(p).catch(() => {}); removed++; }
    }
  };
  await walk(root, 0);
  if (removed) log.info("removed temp files left by a crash", { count: removed });
  return removed;
}

export class StorageError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

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
        const cl = req.headers["content-length"];
        const expected = cl === undefined ? undefined : Number(cl);
        if (grant.maxLength !== undefined && expected !== undefined && expected > grant.maxLength) {
          return forbid(413, `body of ${expected} bytes is longer than the ${grant.maxLength} this URL allows`);
        }
        // cheap early refusal; the link() in writeDurably is what guarantees it
        if (await stat(target.file).then(() => true, () => false)) return forbid(409, "conflict: this fid is stored here already; a PUT never replaces it");
        // the digest is computed only when asked (classes with a hashtype): x-mogile-hashtype: SHA-256
        const asked = req.headers["x-mogile-hashtype"];
        const alg = typeof asked === "string" && asked !== "" && asked !== "NONE" ? asked : undefined;
        if (alg !== undefined && !isHashName(alg)) {
          req.resume();
          return send(res, 400, `unknown hash type ${alg}`);
        }
        const w = await fs.writeDurably(target.file, req, expected, alg ? { hash: alg } : undefined, { maxLength: grant.maxLength, protect: grant.protect });
        return send(res, 201, `stored ${w.length} bytes`, { "x-mogile-length": String(w.length), ...(w.digest ? { "x-mogile-digest": w.digest } : {}) });
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
    handle(req, res).catch((err) => {
      // logged without its query: a signature in a log could be replayed until it expires
      const url = req.url?.split("?")[0];
      const status = err instanceof StorageError ? err.status : (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE" ? 400 : 500;
      // 503 (an unmounted device) is reported once by the agent, not per request
      if (status >= 500 && status !== 503) log.error("storage request failed", { method: req.method, url, err });
      else log.warn("storage request refused", { method: req.method, url, status, err });
      send(res, status, String(err instanceof Error ? err.message : err));
    });
  };
  // TLS when the operator supplied a certificate (MOGILE_TLS_CERT, MOGILE_TLS_KEY)
  const server: http.Server = tls ? https.createServer({ ...options, ...tls }, onRequest) : http.createServer(options, onRequest);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // socket inactivity, not a total: a big upload or download streams as long as bytes move
  server.timeout = limits.idleTimeoutMs;
  return server;
}
