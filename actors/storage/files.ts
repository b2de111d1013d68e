// The storage node's HTTP file server (mogstored): PUT/GET/HEAD/DELETE on MogileFS fid paths.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { randomBytes, createHash } from "node:crypto";
import { parseFidPath } from "../../protocol/paths.ts";
import type { Logger } from "../runtime/log.ts";

export interface FileStore {
  root: string;
  devids: ReadonlySet<number>;
  /** absolute file path for a canonical URI on one of our devices, else null */
  resolve(uri: string): { devid: number; fid: number; file: string } | null;
  /** stream `src` into `file` durably: temp file, fsync, rename. Returns bytes written. */
  writeDurably(file: string, src: Readable, expectedLength?: number): Promise<number>;
}

export function fileStore(root: string, devids: number[]): FileStore {
  const devs = new Set(devids);
  const madeDirs = new Set<string>();
  return {
    root,
    devids: devs,
    resolve(uri) {
      const p = parseFidPath(uri);
      if (!p || !devs.has(p.devid)) return null;
      return { ...p, file: path.join(root, uri) };
    },
    async writeDurably(file, src, expectedLength) {
      const dir = path.dirname(file);
      if (!madeDirs.has(dir)) {
        await mkdir(dir, { recursive: true });
        madeDirs.add(dir);
      }
      const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
      if (expectedLength !== undefined && expectedLength <= SMALL_BODY) return writeSmall(src, tmp, file, expectedLength);
      // flush: the descriptor is fsynced before close, and pipeline resolves only after close
      const ws = createWriteStream(tmp, { flush: true, highWaterMark: 1 << 20 });
      try {
        await pipeline(src, ws);
        if (expectedLength !== undefined && ws.bytesWritten !== expectedLength) {
          throw new StorageError(400, `short body: got ${ws.bytesWritten} of ${expectedLength} bytes`);
        }
        // rename only after the fsync: a crash never exposes a partial file under the fid's name
        await rename(tmp, file);
        await syncDir(dir);
        return ws.bytesWritten;
      } catch (err) {
        ws.destroy();
        await unlink(tmp).catch(() => {});
        throw err;
      }
    },
  };
}

/** bodies up to this size are gathered (bounded by their declared length) and written in one call */
const SMALL_BODY = 256 * 1024;

async function writeSmall(src: Readable, tmp: string, file: string, expected: number): Promise<number> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of src) {
    n += chunk.length;
    if (n > expected) throw new StorageError(400, `body longer than its declared ${expected} bytes`);
    parts.push(chunk);
  }
  if (n !== expected) throw new StorageError(400, `short body: got ${n} of ${expected} bytes`);
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
  return n;
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
async function testWrite(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
  if (req.method === "PUT") {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of req) { n += c.length; if (n > 4096) return send(res, 413, "probe bodies are small"); parts.push(c); }
    await mkdir(path.dirname(file), { recursive: true });
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
    if (probe && fs.devids.has(Number(probe[1]))) return testWrite(req, res, path.join(fs.root, uri));
    const target = fs.resolve(uri);
    if (!target) {
      req.resume();
      return send(res, uri.includes("..") ? 400 : 404, `not a fid path on this node: ${uri}`);
    }
    switch (req.method) {
      case "PUT": {
        const cl = req.headers["content-length"];
        const expected = cl === undefined ? undefined : Number(cl);
        const n = await fs.writeDurably(target.file, req, expected);
        return send(res, 201, `stored ${n} bytes`, { "x-mogile-length": String(n) });
      }
      case "GET":
      case "HEAD": {
        const st = await stat(target.file).catch(() => null);
        if (!st || !st.isFile()) return send(res, 404, "not found");
        const range = parseRange(req.headers.range, st.size);
        const digest = new URLSearchParams(query).get("digest");
        if (digest !== null && req.method === "GET") {
          const algs: Record<string, string> = { "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256" };
          if (!algs[digest]) return send(res, 400, `unknown digest ${digest}`);
          const h = createHash(algs[digest]);
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
      if (status >= 500) log.error("storage request failed", { method: req.method, url: req.url, err });
      else log.warn("storage request refused", { method: req.method, url: req.url, status, err });
      send(res, status, String(err instanceof Error ? err.message : err));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // large uploads may take long; idle sockets are bounded by headersTimeout
  return server;
}
