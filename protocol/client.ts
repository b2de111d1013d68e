// The mogile SDK client: tracker commands over NATS request-reply (methods in commands.ts), streaming put/get with failover.
import "./nats-patch.ts";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { Readable, PassThrough } from "node:stream";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { subjects } from "./subjects.ts";
import { MogileError, isErrorCode } from "./errors.ts";
import type { Command, Request, Reply } from "./schemas.ts";
import { sleepSeconds } from "./schemas.ts";
import { httpRequest, drain, readText, HttpError } from "./http.ts";
import { TrackerCommands } from "./commands.ts";
import { findCredentials, natsAuthOptions, explainConnectError } from "./credentials.ts";

export interface ClientOptions {
  /** NATS server URL(s); default MOGILE_NATS_URL or nats://127.0.0.1:4222 */
  servers?: string | string[];
  /** reuse an existing connection (the client will not close it) */
  nc?: NatsConnection;
  /** per-request timeout for tracker commands (ms) */
  timeoutMs?: number;
  name?: string;
  /**
   * NATS credentials (see credentials.ts): a user's nkey seed file, or the user to look up in a
   * local cluster's data dir (default `app`); else MOGILE_NATS_NKEY / MOGILE_NATS_USER.
   */
  nkeyFile?: string;
  user?: string;
  dataDir?: string;
  /** a CA bundle to trust for a cluster with its own CA (default MOGILE_TLS_CA) */
  caFile?: string;
}

export interface PutOptions {
  class?: string;
  /** the body's length, when known; storage and create_close both verify it */
  size?: number;
  /** upload timeout per attempt (ms) */
  timeoutMs?: number;
  /**
   * return only once this many copies exist (true: as many as the class policy wants); on
   * timeout the put fails with `replication_timeout` although the file is stored
   */
  waitReplicated?: boolean | number;
  /**
   * metadata kept with the file (see `fileMeta` in schemas.ts); a function is called once the body
   * is stored (its digest known), just before create_close
   */
  meta?: Record<string, string> | (() => Record<string, string> | undefined);
}
export interface PutResult { fid: number; key: string; length: number; devid: number; path: string }

export interface GetOptions {
  /** an RFC 9110 single range, e.g. "bytes=0-99" */
  range?: string;
  timeoutMs?: number;
}
export interface GetResult {
  body: Readable;
  status: 200 | 206;
  /** bytes in `body` */
  contentLength: number;
  /** set for 206 replies */
  contentRange?: string;
  path: string;
}

function metaOf(opts: PutOptions): { meta?: Record<string, string> } {
  const meta = typeof opts.meta === "function" ? opts.meta() : opts.meta;
  return meta ? { meta } : {};
}

/** Decodes a tracker reply: service errors carry `{error, message}` in the body. */
function decode<T>(data: Uint8Array, hdrs: MsgHdrs | undefined): T {
  const text = new TextDecoder().decode(data);
  if (hdrs?.get("Nats-Service-Error")) {
    let body: { error?: string; message?: string } = {};
    try { body = JSON.parse(text); } catch { /* fall through to the header text */ }
    const code = body.error ?? hdrs.get("Nats-Service-Error");
    throw new MogileError(isErrorCode(code) ? code : "failure", body.message ?? hdrs.get("Nats-Service-Error"));
  }
  return JSON.parse(text) as T;
}

export class MogileClient extends TrackerCommands {
  private constructor(readonly nc: NatsConnection, private readonly owned: boolean, private readonly timeoutMs: number) {
    super();
  }

  /** Connect to the cluster's NATS servers. */
  static async connect(opts: ClientOptions = {}): Promise<MogileClient> {
    if (opts.nc) return new MogileClient(opts.nc, false, opts.timeoutMs ?? 10_000);
    const servers = opts.servers ?? process.env.MOGILE_NATS_URL ?? "nats://127.0.0.1:4222";
    const creds = findCredentials(opts, "app");
    const nc = await connect({
      ...natsAuthOptions(creds, { MOGILE_TLS_CA: opts.caFile ?? process.env.MOGILE_TLS_CA }),
      servers: typeof servers === "string" ? servers.split(",") : servers,
      // MOGILE_NATS_LOCAL_FIRST=1: the first server is this machine's own node (use it while it is up)
      noRandomize: process.env.MOGILE_NATS_LOCAL_FIRST === "1",
      pingInterval: 5_000,
      maxPingOut: 3,
      name: opts.name ?? "mogile-client",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    }).catch((err) => { throw explainConnectError(err, String(servers), creds); });
    return new MogileClient(nc, true, opts.timeoutMs ?? 10_000);
  }

  /** Send one tracker command; throws MogileError with the MogileFS code on failure. */
  async rpc<C extends Command>(command: C, args: Request<C>, timeoutMs = this.timeoutMs): Promise<Reply<C>> {
    // a sleep answers when it is over: wait for it, whatever the usual timeout
    if (command === "sleep") timeoutMs = Math.max(timeoutMs, sleepSeconds((args as { duration?: number }).duration) * 1000 + 5_000);
    try {
      const msg = await this.nc.request(subjects.rpc(command), JSON.stringify(args), { timeout: timeoutMs });
      return decode<Reply<C>>(msg.data, msg.headers);
    } catch (err) {
      if (err instanceof MogileError) throw err;
      const text = String((err as Error)?.message ?? err);
      if (/permissions violation/i.test(text)) throw new MogileError("permission_denied", `NATS refused ${command} for this user: ${text}`);
      if (/no responders/i.test(text) || (err as { name?: string }).name === "NoRespondersError") throw new MogileError("unavailable", `no tracker answers ${command}`);
      if (/timeout/i.test(text)) throw new MogileError("timeout", `${command} timed out after ${timeoutMs} ms`);
      throw err;
    }
  }

  /**
   * Store `body` under `key`. A Buffer is retried on every candidate device; a stream fails over
   * only while none of it has been consumed. The key is linked only after the upload is verified.
   */
  async put(domain: string, key: string, body: Buffer | Readable | string, opts: PutOptions = {}): Promise<PutResult> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    // a stream is reused across attempts only while none of it was consumed (see upload)
    return this.upload(domain, key, () => data, Buffer.isBuffer(data), Buffer.isBuffer(data) ? data.length : opts.size, opts);
  }

  /**
   * Store the file at `filePath` under `key`, with its size from stat. A file can be read again,
   * so any failed attempt (even mid-body) is retried on the next candidate device.
   */
  async putFile(domain: string, key: string, filePath: string, opts: Omit<PutOptions, "size"> = {}): Promise<PutResult> {
    const { size, isFile } = await stat(filePath).then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) throw new MogileError("bad_request", `${filePath} is not a regular file`);
    return this.upload(domain, key, () => createReadStream(filePath), true, size, opts);
  }

  /** create_open, then PUT to each candidate device in turn until one takes it, then create_close. */
  private async upload(domain: string, key: string, source: () => Buffer | Readable, replayable: boolean, size: number | undefined, opts: PutOptions): Promise<PutResult> {
    const open = await this.rpc("create_open", { domain, key, class: opts.class, multi_dest: true, size });
    const errors: string[] = [];
    for (const dest of open.dests) {
      const data = source();
      try {
        const headers = size !== undefined ? { "content-length": size } : undefined;
        // an idle timeout: the node answers after its fsync and its chain's (10 s for a silent hop);
        // a node cut off is given up within seconds, not minutes, and the next destination tried
        const idleMs = opts.timeoutMs ?? (size !== undefined ? 15_000 + Math.ceil(size / 20_000) : 120_000);
        const res = await httpRequest(dest.path, { method: "PUT", body: data, headers, timeoutMs: idleMs });
        if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 204) {
          const text = await readText(res);
          throw new HttpError(`PUT ${dest.path}: ${res.statusCode} ${text.trim()}`, res.statusCode ?? null, false);
        }
        await drain(res);
        const written = Number(res.headers["x-mogile-length"] ?? size ?? 0);
        // the storage node's signed receipt: every copy it (and its chain) wrote, recorded as is
        const receipt = res.headers["x-mogile-receipt"];
        const closed = await this.rpc("create_close", {
          domain, key, fid: open.fid, devid: dest.devid, path: dest.path, size: size ?? written,
          ...(typeof receipt === "string" ? { receipt } : {}),
          ...(opts.waitReplicated !== undefined ? { wait_replicated: opts.waitReplicated } : {}),
          ...metaOf(opts),
        });
        return { fid: closed.fid, key, length: closed.length, devid: dest.devid, path: dest.path };
      } catch (err) {
        // a stream we opened (a file) must not leak its descriptor when the attempt fails
        if (replayable && !Buffer.isBuffer(data)) data.destroy();
        if (err instanceof MogileError) throw err;
        errors.push((err as Error).message);
        if (!replayable && !(err instanceof HttpError && err.beforeBody)) break;
      }
    }
    throw new MogileError("upload_failed", errors.join("; "));
  }

  /**
   * Every key in `domain` (under `prefix`), in order, fetched a page at a time with `after`;
   * an empty domain or prefix yields nothing.
   */
  async *listAll(domain: string, opts: { prefix?: string; pageSize?: number } = {}): AsyncGenerator<string, void, undefined> {
    let after: string | undefined;
    for (;;) {
      let page: Reply<"list_keys">;
      try {
        page = await this.list(domain, { prefix: opts.prefix, after, limit: opts.pageSize ?? 1000 });
      } catch (err) {
        if (err instanceof MogileError && err.code === "none_match") return;
        throw err;
      }
      yield* page.keys;
      if (page.keys.length === 0 || !page.next_after || page.next_after === after) return;
      after = page.next_after;
    }
  }

  /**
   * Read `key` as a stream, trying each path in turn; if a copy fails mid-stream the rest is
   * fetched from the next path with a Range request, so the caller sees one unbroken stream.
   */
  async get(domain: string, key: string, opts: GetOptions = {}): Promise<GetResult> {
    const { paths } = await this.getPaths(domain, key, { pathcount: 10 });
    if (paths.length === 0) throw new MogileError("read_failed", `${domain}/${key} has no readable copy`);
    const errors: string[] = [];
    for (let i = 0; i < paths.length; i++) {
      try {
        const res = await httpRequest(paths[i], { method: "GET", headers: opts.range ? { range: opts.range } : undefined, timeoutMs: opts.timeoutMs ?? 10_000 });
        if (res.statusCode === 416) {
          await drain(res);
          throw new MogileError("range_not_satisfiable", `${opts.range} is outside ${domain}/${key}`);
        }
        if (res.statusCode !== 200 && res.statusCode !== 206) {
          await drain(res);
          throw new HttpError(`GET ${paths[i]}: ${res.statusCode}`, res.statusCode ?? null, true);
        }
        const contentLength = Number(res.headers["content-length"] ?? 0);
        const contentRange = res.headers["content-range"];
        const start = contentRange ? Number(/bytes (\d+)-/.exec(contentRange)?.[1] ?? 0) : 0;
        const body = resumable(res, paths.slice(i + 1), start, contentLength, opts.timeoutMs ?? 10_000);
        return { body, status: res.statusCode as 200 | 206, contentLength, contentRange, path: paths[i] };
      } catch (err) {
        if (err instanceof MogileError) throw err;
        errors.push((err as Error).message);
      }
    }
    throw new MogileError("read_failed", errors.join("; "));
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    // draining needs a live server; if it is gone, close outright instead of reconnecting forever
    await this.nc.drain().catch(() => {});
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

/** Wraps a response so that a mid-stream failure continues from the next path at the same offset. */
function resumable(first: Readable, others: string[], start: number, length: number, timeoutMs: number): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let sent = 0;
  let src: Readable = first;
  let closed = false;
  // the reader went away (an aborted download): stop reading the copy and free its socket
  out.once("close", () => { closed = true; src.destroy(); });
  const writable = () => new Promise<void>((resolve) => {
    const done = () => { out.off("drain", done); out.off("close", done); resolve(); };
    out.once("drain", done);
    out.once("close", done);
  });
  const pump = async () => {
    for (let next = 0; ; ) {
      try {
        for await (const chunk of src) {
          if (closed) return;
          sent += chunk.length;
          if (!out.write(chunk)) await writable();
        }
        if (closed) return;
        if (sent >= length) break;
        throw new Error(`copy ended early at ${sent} of ${length} bytes`);
      } catch (err) {
        if (closed) return;
        if (next >= others.length) throw err;
        const from = start + sent;
        const res = await httpRequest(others[next++], { method: "GET", headers: { range: `bytes=${from}-${start + length - 1}` }, timeoutMs });
        if (res.statusCode !== 206) { await drain(res); throw err; }
        src = res;
      }
    }
    out.end();
  };
  pump().catch((err) => out.destroy(err));
  return out;
}
