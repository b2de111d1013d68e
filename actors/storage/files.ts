// The storage node's HTTP file server (mogstored): PUT/GET/HEAD/DELETE on MogileFS fid paths.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { randomBytes, createHash, type Hash } from "node:crypto";
import { parseFidPath } from "../../protocol/paths.ts";
import type { Logger } from "../runtime/log.ts";
import { deviceDir, type MountTable } from "./mount.ts";

export interface FileStore {
  root: string;
  devids: ReadonlySet<number>;
  /** absolute file path for a canonical URI on one of our devices, else null */
  resolve(uri: string): { devid: number; fid: number; file: string } | null;
  /**
   * Stream `src` into `file` durably: temp file, fsync, rename. With `hash`, the digest is computed
   * while streaming; with `expect` too, a body whose digest differs is never renamed into place.
   */
  writeDurably(file: string, src: Readable, expectedLength?: number, digest?: DigestOptions): Promise<Written>;
  /** digests computed on write (or on an earlier ?digest= read), valid while the file is unchanged */
  digests: DigestCache;
  /** throws a 503 StorageError unless the device is mounted (its directory holds its marker) */
  assertMounted(devid: number): Promise<void>;
}

export interface DigestOptions { hash: HashName; /** `ALG:hex` the body must have */ expect?: string }
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
    async writeDurably(file, src, expectedLength, digest) {
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
        if (expectedLength !== undefined && expectedLength <= SMALL_BODY) return writeSmall(src, tmp, file, expectedLength, hash, check);
        // flush: the descriptor is fsynced before close, and pipeline resolves only after close
        const ws = createWriteStream(tmp, { flush: true, highWaterMark: 1 << 20 });
        try {
          if (hash) await pipeline(src, async function* (chunks: AsyncIterable<Buffer>) { for await (const c of chunks) { hash.update(c); yield c; } }, ws);
          else await pipeline(src, ws);
          if (expectedLength !== undefined && ws.bytesWritten !== expectedLength) {
            throw new StorageError(400, `short body: got ${ws.bytesWritten} of ${expectedLength} bytes`);
          }
          const d = check();
          // rename only after the fsync: a crash never exposes a partial file under the fid's name
          await rename(tmp, file);
          await syncDir(dir);
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

/** bodies up to this size are gathered (bounded by their declared length) and written in one call */
const SMALL_BODY = 256 * 1024;

async function writeSmall(src: Readable, tmp: string, file: string, expected: number, hash: Hash | null, check: () => string | undefined): Promise<Written> {
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
  // rename only after the fsync: a crash never exposes a partial file under the fid's name
  await rename(tmp, file);
  await syncDir(path.dirname(file));
  return { length: n, digest };
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

export function createFileServer(fs: FileStore, log: Logger): http.Server {
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
    switch (req.method) {
      case "PUT": {
        const cl = req.headers["content-length"];
        const expected = cl === undefined ? undefined : Number(cl);
        // the digest is computed only when asked (classes with a hashtype): x-mogile-hashtype: SHA-256
        const asked = req.headers["x-mogile-hashtype"];
        const alg = typeof asked === "string" && asked !== "" && asked !== "NONE" ? asked : undefined;
        if (alg !== undefined && !isHashName(alg)) {
          req.resume();
          return send(res, 400, `unknown hash type ${alg}`);
        }
        const w = await fs.writeDurably(target.file, req, expected, alg ? { hash: alg } : undefined);
        return send(res, 201, `stored ${w.length} bytes`, { "x-mogile-length": String(w.length), ...(w.digest ? { "x-mogile-digest": w.digest } : {}) });
      }
      case "GET":
      case "HEAD": {
        const st = await stat(target.file).catch(() => null);
        if (!st || !st.isFile()) return send(res, 404, "not found");
        const range = parseRange(req.headers.range, st.size);
        const digest = new URLSearchParams(query).get("digest");
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
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      const status = err instanceof StorageError ? err.status : (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE" ? 400 : 500;
      // 503 (an unmounted device) is reported once by the agent, not per request
      if (status >= 500 && status !== 503) log.error("storage request failed", { method: req.method, url: req.url, err });
      else log.warn("storage request refused", { method: req.method, url: req.url, status, err });
      send(res, status, String(err instanceof Error ? err.message : err));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // large uploads may take long; idle sockets are bounded by headersTimeout
  return server;
}
