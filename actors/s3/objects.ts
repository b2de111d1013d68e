// Objects: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects. An object is a mogile file
// (bucket = domain, key = key); its S3 metadata (content-type and the other stored headers,
// x-amz-meta-*, the ETag = MD5 of the body) is kept with the file by create_close, so classic
// MogileFS clients and S3 clients see the same files.
import { pipeline } from "node:stream/promises";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import type { MogileClient } from "../../protocol/client.ts";
import { MogileError } from "../../protocol/errors.ts";
import { FILE_META_MAX_BYTES } from "../../protocol/schemas.ts";
import { S3Error, fromMogile, s3err } from "./errors.ts";
import { authorize, type S3Keys } from "./auth.ts";
import { readBody, sendEmpty, sendXml, type S3Request } from "./request.ts";
import { SigV4Error } from "./sigv4.ts";
import { chunkedDecoder } from "./aws_chunked.ts";
import { doc, el, httpDate, isoDate, readDeleteObjects, XmlError } from "./xml.ts";
import { composeInto } from "./compose.ts";
import { httpRequest } from "../../protocol/http.ts";

export interface ObjectDeps { client: MogileClient; keys: S3Keys; maxObjectBytes: number; clusterKey: Buffer }

/** headers S3 stores with an object and returns on GET and HEAD */
const STORED_HEADERS = ["content-type", "content-encoding", "cache-control", "content-disposition", "content-language", "expires"] as const;
const USER_META = /^x-amz-meta-([a-z0-9][a-z0-9._-]{0,116})$/;
const DEFAULT_TYPE = "binary/octet-stream";

/** mogile keys are at most 255 characters (MogileFS's limit); S3's are 1,024 bytes */
export function checkKey(key: string): void {
  if (key.length > 255) throw s3err.keyTooLong();
}

/** The S3 metadata of a PUT, as stored with the file (the etag is added once the body is in). */
export function metaOfRequest(r: S3Request): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const h of STORED_HEADERS) {
    let v = r.req.headers[h];
    // aws-chunked is how the body came, not how it is stored
    if (h === "content-encoding" && typeof v === "string") v = v.split(",").map((x) => x.trim()).filter((x) => x !== "" && x !== "aws-chunked").join(", ");
    if (typeof v === "string" && v !== "") meta[h] = v;
  }
  for (const [name, v] of Object.entries(r.req.headers)) {
    if (!name.startsWith("x-amz-meta-")) continue;
    if (!USER_META.test(name)) throw s3err.invalidArgument(`metadata name ${name} is not supported (lowercase letters, digits, dot, dash and underscore)`);
    meta[name] = Array.isArray(v) ? v.join(",") : String(v ?? "");
  }
  // refused before the body is read: the file keeps at most 64 entries, one of them the etag
  if (Object.keys(meta).length > 63) throw new S3Error(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size (at most 63 entries here)");
  // eslint-disable-next-line no-control-regex
  if (Object.values(meta).some((v) => /[\u0000-\u001f\u007f]/.test(v))) throw s3err.invalidArgument("metadata values must not contain control characters");
  const size = Object.entries(meta).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > FILE_META_MAX_BYTES - 64) throw new S3Error(400, "MetadataTooLarge", `Your metadata headers exceed the maximum allowed metadata size (${FILE_META_MAX_BYTES - 64} bytes here)`);
  return meta;
}

/**
 * The body's digests, checked before its last bytes are passed on: the storage node never receives
 * the whole declared length of a body that fails (x-amz-content-sha256, Content-MD5), so it never
 * stores it, and nothing is linked.
 */
export class CheckedBody extends Transform {
  private md5 = createHash("md5");
  private sha: Hash | null;
  private held: Buffer | null = null;
  /** x-amz-checksum-* of the request: its algorithm's running state */
  private extra: { name: string; want: string; hash?: Hash; crc?: number } | null = null;
  md5Hex = "";
  constructor(private readonly expect: { sha256Hex?: string; md5Base64?: string; headers?: Record<string, string | string[] | undefined> }) {
    super();
    this.sha = expect.sha256Hex ? createHash("sha256") : null;
    const h = expect.headers ?? {};
    for (const [name, alg] of [["x-amz-checksum-crc32", "crc32"], ["x-amz-checksum-sha1", "sha1"], ["x-amz-checksum-sha256", "sha256"]] as const) {
      const v = h[name];
      if (typeof v === "string" && v !== "") { this.extra = { name, want: v, ...(alg === "crc32" ? { crc: 0 } : { hash: createHash(alg) }) }; break; }
    }
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.md5.update(chunk);
    this.sha?.update(chunk);
    if (this.extra?.hash) this.extra.hash.update(chunk);
    else if (this.extra) this.extra.crc = crc32(chunk, this.extra.crc);
    const prev = this.held;
    this.held = chunk;
    done(null, prev ?? undefined);
  }
  override _flush(done: TransformCallback): void {
    const md5 = this.md5.digest();
    this.md5Hex = md5.toString("hex");
    if (this.expect.md5Base64 !== undefined && md5.toString("base64") !== this.expect.md5Base64) return done(s3err.badDigest());
    if (this.sha && this.sha.digest("hex") !== this.expect.sha256Hex) {
      return done(new S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."));
    }
    if (this.extra) {
      const got = this.extra.hash ? this.extra.hash.digest("base64") : (() => { const b = Buffer.alloc(4); b.writeUInt32BE(this.extra!.crc! >>> 0); return b.toString("base64"); })();
      if (got !== this.extra.want) return done(new S3Error(400, "BadDigest", `The ${this.extra.name.slice("x-amz-checksum-".length).toUpperCase()} you specified did not match the calculated checksum.`));
    }
    if (this.held) this.push(this.held);
    done();
  }
}

/** a Content-MD5 header: 16 bytes of base64 (Buffer's decoder skips junk: re-encoding catches it) */
const validMd5 = (v: unknown) => typeof v === "string" && Buffer.from(v, "base64").length === 16 && Buffer.from(v, "base64").toString("base64") === v.trim();

/** The request body, decoded (aws-chunked) and checked (x-amz-content-sha256, Content-MD5) on the way. */
export function bodyOf(r: S3Request): { stream: Readable; size: number; checker: CheckedBody } {
  const h = r.req.headers;
  const md5 = h["content-md5"];
  if (md5 !== undefined && !validMd5(md5)) throw s3err.invalidDigest();
  const hash = r.payloadHash;
  const streaming = hash?.startsWith("STREAMING-") ?? false;
  const encoding = String(h["content-encoding"] ?? "");
  const chunked = streaming || encoding.split(",").map((s) => s.trim()).includes("aws-chunked");
  const declared = chunked ? h["x-amz-decoded-content-length"] : h["content-length"];
  if (declared === undefined) throw s3err.missingLength();
  const size = Number(declared);
  if (!Number.isSafeInteger(size) || size < 0) throw s3err.invalidArgument(`bad length ${String(declared)}`);
  const checker = new CheckedBody({
    sha256Hex: hash && /^[0-9a-f]{64}$/.test(hash) ? hash : undefined,
    md5Base64: typeof md5 === "string" ? md5 : undefined,
    headers: h,
  });
  let stream: Readable = r.req;
  if (chunked) {
    const dec = chunkedDecoder({
      mode: streaming ? hash! : "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
      decodedLength: size,
      ...(r.chunkSigning ?? {}),
    });
    r.req.on("error", (e) => dec.destroy(e));
    stream = r.req.pipe(dec);
  }
  stream.on("error", (e) => checker.destroy(e));
  return { stream: stream.pipe(checker), size, checker };
}

/** a digest or signature failure of the body, if that is why the upload failed */
function bodyFailure(err: unknown, failed: { err?: Error }): S3Error | null {
  const e = failed.err ?? err;
  if (e instanceof S3Error) return e;
  if (e instanceof SigV4Error) return new S3Error(e.code === "SignatureDoesNotMatch" ? 403 : 400, e.code, e.message);
  return null;
}

/** request headers asking for what mogile does not do: refused, rather than silently ignored */
export function refuseUnsupported(r: S3Request, conditionalWrites = true): void {
  const h = r.req.headers;
  if (conditionalWrites && (h["if-none-match"] !== undefined || h["if-match"] !== undefined)) throw s3err.notImplemented("a conditional write (If-Match / If-None-Match)");
  if (Object.keys(h).some((k) => k.startsWith("x-amz-server-side-encryption"))) throw s3err.notImplemented("server-side encryption");
  if (Object.keys(h).some((k) => k.startsWith("x-amz-object-lock"))) throw s3err.notImplemented("object lock");
}

export async function putObject(d: ObjectDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  checkKey(key);
  refuseUnsupported(r);
  const meta = metaOfRequest(r);
  const { stream, size, checker } = bodyOf(r);
  if (size > d.maxObjectBytes) throw s3err.tooLarge(d.maxObjectBytes);
  // the first error of the body's decoding or checking: the storage PUT then fails and nothing is linked
  const failed: { err?: Error } = {};
  checker.on("error", (e) => { failed.err ??= e; });
  const cls = storageClass(r);
  try {
    await d.client.put(bucket, key, stream, {
      size,
      ...(cls ? { class: cls } : {}),
      meta: () => ({ ...meta, etag: checker.md5Hex }),
    });
  } catch (err) {
    throw bodyFailure(err, failed) ?? fromMogile(err, bucket, key);
  }
  sendEmpty(r, 200, { etag: `"${checker.md5Hex}"` });
}

/** x-amz-storage-class names a mogile class; S3's own class names mean the default class */
export function storageClass(r: S3Request): string | undefined {
  const c = r.req.headers["x-amz-storage-class"];
  if (typeof c !== "string" || c === "" || /^(STANDARD|REDUCED_REDUNDANCY|STANDARD_IA|ONEZONE_IA|INTELLIGENT_TIERING|GLACIER|DEEP_ARCHIVE|GLACIER_IR|OUTPOSTS|EXPRESS_ONEZONE)$/.test(c)) return undefined;
  return c;
}

/**
 * The ETag of a file: its stored MD5; without one (a file from a classic client) the class's MD5
 * checksum when there is one, else a stable non-MD5 tag (with a dash, so clients do not check the
 * body against it). Listings and reads give the same.
 */
export function etagOf(stored: string | undefined, checksum: string | undefined | null, fid: number): string {
  return stored ?? (checksum?.startsWith("MD5:") ? checksum.slice(4).toLowerCase() : `${fid.toString(16).padStart(16, "0")}-1`);
}

interface ObjectInfo { fid: number; length: number; mtime: Date; etag: string; meta: Record<string, string>; paths: string[] }

/** The object's metadata and readable copies, in one (cached) lookup. */
async function info(d: ObjectDeps, bucket: string, key: string): Promise<ObjectInfo> {
  try {
    const i = await d.client.rpc("get_paths", { domain: bucket, key, noverify: true, pathcount: 10, meta: true });
    const meta = i.meta ?? {};
    const etag = etagOf(meta.etag, i.checksum, i.fid);
    return { fid: i.fid, length: i.length, mtime: new Date(i.mtime ?? 0), etag, meta, paths: i.paths };
  } catch (err) {
    throw fromMogile(err, bucket, key);
  }
}

function objectHeaders(o: ObjectInfo, q: URLSearchParams, signed: boolean): Record<string, string> {
  const h: Record<string, string> = {
    etag: `"${o.etag}"`,
    "last-modified": httpDate(o.mtime),
    "accept-ranges": "bytes",
    "content-type": o.meta["content-type"] ?? DEFAULT_TYPE,
  };
  // only what S3 stores: the content headers and x-amz-meta-* (nothing else ever becomes a header)
  for (const [k, v] of Object.entries(o.meta)) if ((STORED_HEADERS as readonly string[]).includes(k) && k !== "content-type" || USER_META.test(k)) h[k] = v;
  // response-* overrides (GetObject), for signed requests only, as S3
  if (signed) for (const name of ["content-type", "content-language", "expires", "cache-control", "content-disposition", "content-encoding"]) {
    const v = q.get(`response-${name}`);
    if (v !== null) h[name] = v;
  }
  return h;
}

/** If-Match / If-None-Match / If-(Un)Modified-Since, in S3's order; null when the request goes on. */
function preconditions(r: S3Request, o: ObjectInfo): number | null {
  const h = r.req.headers;
  return preconditionsOf({ ifMatch: h["if-match"], ifNoneMatch: h["if-none-match"], ifModifiedSince: h["if-modified-since"], ifUnmodifiedSince: h["if-unmodified-since"] }, o);
}

function preconditionsOf(c: { ifMatch?: string; ifNoneMatch?: string; ifModifiedSince?: string; ifUnmodifiedSince?: string }, o: ObjectInfo): number | null {
  const tags = (v: string) => v.split(",").map((s) => s.trim().replace(/^W\//, "").replace(/^"|"$/g, ""));
  const seconds = Math.floor(o.mtime.getTime() / 1000);
  const since = (v: string | undefined) => { const t = v ? Date.parse(v) : NaN; return Number.isNaN(t) ? null : Math.floor(t / 1000); };
  const ims = since(c.ifModifiedSince);
  const ius = since(c.ifUnmodifiedSince);
  if (c.ifMatch !== undefined) {
    if (!tags(c.ifMatch).some((t) => t === "*" || t === o.etag)) return 412;
  } else if (ius !== null && seconds > ius) return 412;
  if (c.ifNoneMatch !== undefined) {
    if (tags(c.ifNoneMatch).some((t) => t === "*" || t === o.etag)) return 304;
  } else if (ims !== null && seconds <= ims) return 304;
  return null;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → the inclusive range; undefined for none or several (the whole object). */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | undefined | "invalid" {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // several ranges or another unit: S3 answers the whole object
  if (m[1] === "" && m[2] === "") return undefined;
  let start: number, end: number;
  if (m[1] === "") { const n = Number(m[2]); if (n === 0) return "invalid"; start = Math.max(0, size - n); end = size - 1; }
  else { start = Number(m[1]); end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1); if (m[2] !== "" && Number(m[2]) < start) return undefined; }
  if (start >= size) return "invalid";
  return { start, end };
}

export async function getObject(d: ObjectDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket });
  if (r.query.has("partNumber")) throw s3err.notImplemented("reading one part of an object (partNumber)");
  // no key this long can exist
  if (key.length > 255) throw s3err.noSuchKey(key);
  const o = await info(d, bucket, key);
  const pre = preconditions(r, o);
  if (pre === 412) throw s3err.preconditionFailed();
  const headers = objectHeaders(o, r.query, r.caller.kind === "key");
  if (pre === 304) { r.res.writeHead(304, { etag: headers.etag, "last-modified": headers["last-modified"], "x-amz-request-id": r.id }); r.res.end(); return; }
  const range = rangeOf(r.req.headers.range, o.length);
  if (range === "invalid") throw s3err.invalidRange(o.length);
  const length = range ? range.end - range.start + 1 : o.length;
  const status = range ? 206 : 200;
  const contentRange: Record<string, string> = range ? { "content-range": `bytes ${range.start}-${range.end}/${o.length}` } : {};
  if (r.method === "HEAD" || o.length === 0) { sendEmpty(r, status, { ...headers, "content-length": length, ...contentRange }); return; }
  // the paths name this very fid: its bytes never change, so they match the metadata read with them
  const errors: string[] = [];
  for (const url of o.paths) {
    let res;
    try {
      res = await httpRequest(url, { method: "GET", headers: range ? { range: `bytes=${range.start}-${range.end}` } : undefined, timeoutMs: 30_000 });
    } catch (err) { errors.push((err as Error).message); continue; }
    if (res.statusCode !== status || Number(res.headers["content-length"]) !== length) {
      errors.push(`${url.split("?")[0]}: ${res.statusCode}`);
      res.resume();
      continue;
    }
    r.res.writeHead(status, { ...headers, "content-length": length, "x-amz-request-id": r.id, ...contentRange });
    // a slow reader holds the storage socket idle while it catches up: not a dead node
    res.socket?.setTimeout(10 * 60_000);
    await pipeline(res, r.res);
    return;
  }
  throw new S3Error(503, "ServiceUnavailable", `no copy of ${bucket}/${key} could be read: ${errors.join("; ") || "none is readable"}`);
}

export async function deleteObject(d: ObjectDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  if (key.length > 255) { sendEmpty(r, 204); return; }
  try {
    await d.client.delete(bucket, key);
  } catch (err) {
    // deleting a key that is not there succeeds (S3); a missing bucket does not
    if (!(err instanceof MogileError && err.code === "unknown_key")) throw fromMogile(err, bucket, key);
  }
  sendEmpty(r, 204);
}

export async function deleteObjects(d: ObjectDeps, r: S3Request, bucket: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  const body = await readCheckedBody(r, 4 << 20);
  let parsed: { quiet: boolean; keys: string[] };
  try { parsed = readDeleteObjects(body.toString("utf8")); } catch (err) {
    if (err instanceof XmlError) throw s3err.malformedXml(err.message);
    throw err;
  }
  // the bucket must exist (each key's delete would say so too, but once is clearer)
  const results = [];
  for (const key of parsed.keys) {
    try {
      // no key this long can exist: deleted already, as S3 says of missing keys
      if (key.length > 255) { results.push({ key, ok: true as const }); continue; }
      await d.client.delete(bucket, key);
      results.push({ key, ok: true as const });
    } catch (err) {
      if (err instanceof MogileError && err.code === "unknown_key") { results.push({ key, ok: true as const }); continue; }
      const e = fromMogile(err, bucket, key);
      if (e.code === "NoSuchBucket") throw e;
      results.push({ key, ok: false as const, code: e.code, message: e.message });
    }
  }
  sendXml(r, 200, doc("DeleteResult", results.map((x) => x.ok
    ? (parsed.quiet ? null : el("Deleted", el("Key", x.key)))
    : el("Error", el("Key", x.key), el("Code", x.code), el("Message", x.message)))));
}

/**
 * A small request body (an XML document) read whole, checked against its signed SHA-256, its
 * Content-MD5 and any x-amz-checksum-* header.
 */
export async function readCheckedBody(r: S3Request, max: number): Promise<Buffer> {
  const md5 = r.req.headers["content-md5"];
  if (md5 !== undefined && !validMd5(md5)) throw s3err.invalidDigest();
  let body: Buffer;
  try { body = await readBody(r, max); } catch { throw s3err.malformedXml(`the body is larger than ${max} bytes`); }
  const check = new CheckedBody({
    sha256Hex: r.payloadHash && /^[0-9a-f]{64}$/.test(r.payloadHash) ? r.payloadHash : undefined,
    md5Base64: typeof md5 === "string" ? md5 : undefined,
    headers: r.req.headers,
  });
  await pipeline(async function* () { yield body; }, check, async function (src: AsyncIterable<Buffer>) { for await (const _ of src) { /* drained */ } });
  return body;
}

/** x-amz-copy-source: `bucket/key` or `/bucket/key`, percent-encoded; versions are not kept here. */
export function copySource(r: S3Request): { bucket: string; key: string } | null {
  const h = r.req.headers["x-amz-copy-source"];
  if (h === undefined) return null;
  const v = String(h);
  const q = v.indexOf("?");
  if (q >= 0 && !/^versionId=null$/.test(v.slice(q + 1))) throw s3err.notImplemented("copying a version of an object (versioning)");
  // percent-encoded as a whole (slashes too) or per segment: decoded before it is split
  let path: string;
  try { path = decodeURIComponent(q < 0 ? v : v.slice(0, q)).replace(/^\//, ""); } catch { throw s3err.invalidArgument("x-amz-copy-source is not valid percent-encoding"); }
  const i = path.indexOf("/");
  const bucket = path.slice(0, i);
  const key = path.slice(i + 1);
  if (i < 1 || key === "") throw s3err.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  return { bucket, key };
}

/** CopyObject: storage to storage (a compose of the whole source); metadata COPY (default) or REPLACE. */
export async function copyObject(d: ObjectDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  checkKey(key);
  const src = copySource(r)!;
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket: src.bucket });
  const directive = String(r.req.headers["x-amz-metadata-directive"] ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") throw s3err.invalidArgument("Unknown metadata directive.");
  const o = await info(d, src.bucket, src.key);
  // x-amz-copy-source-if-*: the same rules as a conditional GET, on the source
  const h = r.req.headers;
  const pre = preconditionsOf({
    ifMatch: h["x-amz-copy-source-if-match"] as string | undefined, ifNoneMatch: h["x-amz-copy-source-if-none-match"] as string | undefined,
    ifModifiedSince: h["x-amz-copy-source-if-modified-since"] as string | undefined, ifUnmodifiedSince: h["x-amz-copy-source-if-unmodified-since"] as string | undefined,
  }, o);
  if (pre !== null) throw s3err.preconditionFailed();
  if (src.bucket === bucket && src.key === key && directive === "COPY") {
    throw s3err.invalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  refuseUnsupported(r, false);
  const meta = directive === "REPLACE" ? metaOfRequest(r) : Object.fromEntries(Object.entries(o.meta).filter(([k]) => k !== "etag"));
  const cls = storageClass(r);
  // the copies of the very version checked above (its paths came with its metadata)
  if (!o.paths.length) throw new S3Error(503, "ServiceUnavailable", `${src.bucket}/${src.key} has no readable copy`);
  const sources = [{ urls: o.paths, start: 0, length: o.length }];
  r.req.socket.setTimeout(0);
  const out = await composeInto(d.client, d.clusterKey, bucket, key, sources, { ...(cls ? { class: cls } : {}), meta: (md5) => ({ ...meta, etag: md5 }) });
  sendXml(r, 200, doc("CopyObjectResult", el("LastModified", isoDate(new Date())), el("ETag", `"${out.md5Hex}"`)));
}
