// The storage node's durable file store: fid files written once (temp file, fsync, link), digests,
// and the crash sweep of temp files. The HTTP server in front of it is server.ts.
import { createWriteStream } from "node:fs";
import { chmod, link, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { randomBytes, createHash, type Hash } from "node:crypto";
import { parseFidPath } from "../../protocol/paths.ts";
import type { Logger } from "../runtime/log.ts";
import { deviceDir, type MountTable } from "./mount.ts";
import { PROTECTED_MODE, PUBLIC_MODE } from "./access.ts";

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
  writeDurably(file: string, src: Readable | Buffer, expectedLength?: number, digest?: DigestOptions, opts?: WriteOptions): Promise<Written>;
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
  readUmask();
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
        if (Buffer.isBuffer(src)) {
          if (src.length > max) throw new StorageError(413, `body of ${src.length} bytes is longer than the ${max} this URL allows`);
          return writeBuffer(src, tmp, file, hash, check, opts);
        }
        if (expectedLength !== undefined && expectedLength <= SMALL_BODY) return writeBuffer(await readSmall(src, expectedLength), tmp, file, hash, check, opts);
        // flush: the descriptor is fsynced before close, and pipeline resolves only after close
        const ws = createWriteStream(tmp, { flush: true, highWaterMark: 1 << 20, mode: modeOf(opts) });
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
export async function mkdirBelowDevice(root: string, dir: string): Promise<void> {
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
export const SMALL_BODY = 256 * 1024;

/** A small body whole, exactly `expected` bytes (400 otherwise). */
export async function readSmall(src: Readable, expected: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of src) {
    n += chunk.length;
    if (n > expected) throw new StorageError(400, `body longer than its declared ${expected} bytes`);
    parts.push(chunk);
  }
  if (n !== expected) throw new StorageError(400, `short body: got ${n} of ${expected} bytes`);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
}

async function writeBuffer(body: Buffer, tmp: string, file: string, hash: Hash | null, check: () => string | undefined, opts: WriteOptions): Promise<Written> {
  const n = body.length;
  hash?.update(body);
  const digest = check(); // before anything touches the disk
  const fh = await open(tmp, "w", modeOf(opts));
  try {
    await fh.writeFile(body);
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

const modeOf = (opts: WriteOptions) => (opts.protect ? PROTECTED_MODE : PUBLIC_MODE);

/** the process umask, read without the deprecated getter (set and put back at once) when a store opens */
let umask = 0o022;
function readUmask(): void {
  umask = process.umask(0o022);
  process.umask(umask);
}

/**
 * Give a written, fsynced temp file the fid's name, only after the fsync, so a crash never exposes
 * a partial file under it. The mode says whether reads need a signed URL: temp files are created
 * with it, and chmod()ed only when the umask would have cleared one of its bits (the storage agent
 * sets its umask to 022, so that costs nothing per file; the umask never decides the mode).
 * Without `replace`, link() refuses an existing file atomically (EEXIST): a fid's bytes are written
 * once; a crash between link and unlink leaves a temp file the next start sweeps away.
 */
async function place(tmp: string, file: string, opts: WriteOptions): Promise<void> {
  if ((umask & modeOf(opts)) !== 0) await chmod(tmp, modeOf(opts));
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
async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try { await fh.sync(); } finally { await fh.close(); }
}

/**
 * Group commit of directory fsyncs: one fsync of a directory makes durable every name linked into
 * it before the fsync began. A caller arriving while one runs cannot count on it (its link may have
 * come after the start), so it waits for the next one, which every such caller shares.
 */
const dirSyncs = new Map<string, { running: Promise<void> | null; queued: Promise<void> | null }>();
export function syncDir(dir: string): Promise<void> {
  let st = dirSyncs.get(dir);
  if (!st) dirSyncs.set(dir, (st = { running: null, queued: null }));
  const s = st;
  const start = (): Promise<void> => {
    const p = fsyncDir(dir).finally(() => {
      if (s.running === p) s.running = null;
      if (!s.running && !s.queued && dirSyncs.get(dir) === s) dirSyncs.delete(dir);
    });
    s.running = p;
    return p;
  };
  if (!s.running) return start();
  if (!s.queued) {
    const next = () => { s.queued = null; return start(); };
    s.queued = s.running.then(next, next);
  }
  return s.queued;
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

