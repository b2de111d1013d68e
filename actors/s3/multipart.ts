// Multipart uploads. Parts are ordinary files in a hidden domain (MPU_DOMAIN, not a valid bucket
// name, never listed; signed_get, so parts are never read without a signature), keyed
// `p/<bucket>/<upload id>/<00001>` with their MD5 kept as metadata; the upload itself is a small JSON
// file `u/<bucket>/<upload id>` (target key, metadata, class), apart from the parts so that listing
// open uploads never reads through parts.
// Completing composes the parts storage-to-storage into ONE fid under the target key (readable by
// classic clients like any file), then removes the parts. Uploads left open longer than the TTL are
// aborted by a periodic sweep.
import { createHash, randomBytes } from "node:crypto";
import type { MogileClient } from "../../protocol/client.ts";
import { MogileError } from "../../protocol/errors.ts";
import type { Logger } from "../runtime/log.ts";
import { authorize } from "./auth.ts";
import { fromMogile, S3Error, s3err } from "./errors.ts";
import { composeInto, locate, type Source } from "./compose.ts";
import { bodyOf, checkKey, copySource, metaOfRequest, readCheckedBody, storageClass, type ObjectDeps } from "./objects.ts";
import { sendEmpty, sendXml, type S3Request } from "./request.ts";
import { doc, el, isoDate, readCompleteMultipart, XmlError } from "./xml.ts";

/** the hidden domain holding parts and open uploads (a leading dot: no S3 client can name it as a bucket) */
export const MPU_DOMAIN = ".s3-multipart";

export interface MultipartDeps extends ObjectDeps { clusterKey: Buffer; minPartBytes: number; log: Logger }

interface UploadRecord { bucket: string; key: string; meta: Record<string, string>; class?: string; initiated: number }

const recordKey = (bucket: string, id: string) => `u/${bucket}/${id}`;
const partsPrefix = (bucket: string, id: string) => `p/${bucket}/${id}/`;
const partKey = (bucket: string, id: string, n: number) => `${partsPrefix(bucket, id)}${String(n).padStart(5, "0")}`;
const noSuchUpload = (id: string) => new S3Error(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", { UploadId: id });

let domainReady = false;
async function ensureDomain(client: MogileClient): Promise<void> {
  if (domainReady) return;
  await client.rpc("create_domain", { domain: MPU_DOMAIN }).catch((err) => {
    if (!(err instanceof MogileError && err.code === "domain_exists")) throw err;
  });
  // parts are protected: a storage GET needs a URL signed by the cluster
  await client.rpc("update_domain", { domain: MPU_DOMAIN, signed_get: true });
  domainReady = true;
}

async function readRecord(d: MultipartDeps, bucket: string, id: string): Promise<UploadRecord> {
  if (!/^[0-9a-f]{32}$/.test(id)) throw noSuchUpload(id);
  try {
    const got = await d.client.get(MPU_DOMAIN, recordKey(bucket, id));
    const parts: Buffer[] = [];
    for await (const c of got.body as AsyncIterable<Buffer>) parts.push(c);
    return JSON.parse(Buffer.concat(parts).toString("utf8")) as UploadRecord;
  } catch (err) {
    if (err instanceof MogileError && (err.code === "unknown_key" || err.code === "unreg_domain")) throw noSuchUpload(id);
    throw fromMogile(err);
  }
}

function partNumberOf(q: URLSearchParams): number {
  const v = q.get("partNumber") ?? "";
  const n = Number(v);
  if (!/^\d{1,5}$/.test(v) || n < 1 || n > 10_000) throw s3err.invalidArgument("Part number must be an integer between 1 and 10000, inclusive");
  return n;
}

export async function createUpload(d: MultipartDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  checkKey(key);
  const meta = metaOfRequest(r);
  const cls = storageClass(r);
  // the bucket must exist now, not only at completion
  try { await d.client.rpc("list_keys", { domain: bucket, limit: 1 }); } catch (err) {
    if (!(err instanceof MogileError && err.code === "none_match")) throw fromMogile(err, bucket);
  }
  await ensureDomain(d.client);
  const id = randomBytes(16).toString("hex");
  const rec: UploadRecord = { bucket, key, meta, ...(cls ? { class: cls } : {}), initiated: Date.now() };
  await d.client.put(MPU_DOMAIN, recordKey(bucket, id), Buffer.from(JSON.stringify(rec))).catch((err) => { throw fromMogile(err); });
  sendXml(r, 200, doc("InitiateMultipartUploadResult", el("Bucket", bucket), el("Key", key), el("UploadId", id)));
}

export async function uploadPart(d: MultipartDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  const id = r.query.get("uploadId") ?? "";
  const n = partNumberOf(r.query);
  const rec = await readRecord(d, bucket, id);
  if (rec.key !== key) throw noSuchUpload(id);
  const copy = copySource(r);
  if (copy) {
    // UploadPartCopy: a range of an existing object, copied storage to storage
    await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket: copy.bucket });
    const src = await d.client.rpc("get_paths", { domain: copy.bucket, key: copy.key, noverify: true }).catch((err) => { throw fromMogile(err, copy.bucket, copy.key); });
    const range = r.req.headers["x-amz-copy-source-range"];
    let start = 0;
    let length = src.length;
    if (typeof range === "string") {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
      if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= src.length) throw s3err.invalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy, within the object");
      start = Number(m[1]);
      length = Number(m[2]) - start + 1;
    }
    const sources = await locate(d.client, [{ domain: copy.bucket, key: copy.key, fid: src.fid, start, length } satisfies Source], changedMeanwhile);
    const out = await composeInto(d.client, d.clusterKey, MPU_DOMAIN, partKey(bucket, id, n), sources, { meta: (md5) => ({ etag: md5 }) });
    sendXml(r, 200, doc("CopyPartResult", el("LastModified", isoDate(new Date())), el("ETag", `"${out.md5Hex}"`)));
    return;
  }
  const { stream, size, checker } = bodyOf(r);
  if (size > d.maxObjectBytes) throw s3err.tooLarge(d.maxObjectBytes);
  const failed: { err?: Error } = {};
  checker.on("error", (e) => { failed.err ??= e; });
  try {
    await d.client.put(MPU_DOMAIN, partKey(bucket, id, n), stream, { size, meta: () => ({ etag: checker.md5Hex }) });
  } catch (err) {
    if (failed.err instanceof S3Error) throw failed.err;
    throw fromMogile(failed.err ?? err);
  }
  // completed or aborted while this part was on its way: the part is no one's; remove it
  if (!(await recordExists(d, bucket, id))) {
    await d.client.delete(MPU_DOMAIN, partKey(bucket, id, n)).catch(() => {});
    throw noSuchUpload(id);
  }
  sendEmpty(r, 200, { etag: `"${checker.md5Hex}"` });
}

async function recordExists(d: MultipartDeps, bucket: string, id: string): Promise<boolean> {
  return d.client.rpc("file_info", { domain: MPU_DOMAIN, key: recordKey(bucket, id) }).then(() => true, (err) => {
    if (err instanceof MogileError && err.code === "unknown_key") return false;
    throw fromMogile(err);
  });
}

const changedMeanwhile = (s: Source) => new S3Error(409, "OperationAborted", `${s.key} changed while it was being copied; try again`);

/** The upload's parts (number, fid, size, etag, time), in order. */
async function partsOf(d: MultipartDeps, bucket: string, id: string, after = 0, max = 10_000): Promise<{ n: number; fid: number; length: number; etag: string; mtime: number }[]> {
  const out: { n: number; fid: number; length: number; etag: string; mtime: number }[] = [];
  const prefix = partsPrefix(bucket, id);
  let from = after > 0 ? partKey(bucket, id, after) : undefined;
  for (let page = 0; page < 20 && out.length < max; page++) {
    let got;
    try { got = await d.client.rpc("list_keys", { domain: MPU_DOMAIN, prefix, ...(from ? { after: from } : {}), limit: 1000, details: true }); } catch (err) {
      if (err instanceof MogileError && err.code === "none_match") break;
      throw fromMogile(err);
    }
    for (const f of got.files ?? []) out.push({ n: Number(f.key.slice(prefix.length)), fid: f.fid, length: f.length, etag: f.etag ?? "", mtime: f.mtime });
    if (got.key_count < 1000 && !got.truncated) break;
    from = got.next_after;
  }
  return out.slice(0, max);
}

async function removeUpload(d: MultipartDeps, bucket: string, id: string): Promise<void> {
  for (const p of await partsOf(d, bucket, id)) {
    await d.client.delete(MPU_DOMAIN, partKey(bucket, id, p.n)).catch((err) => { if (!(err instanceof MogileError && err.code === "unknown_key")) throw err; });
  }
  await d.client.delete(MPU_DOMAIN, recordKey(bucket, id)).catch((err) => { if (!(err instanceof MogileError && err.code === "unknown_key")) throw err; });
}

export async function completeUpload(d: MultipartDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  const id = r.query.get("uploadId") ?? "";
  // a big completion copies for long: no idle timeout while the storage nodes work
  r.req.socket.setTimeout(0);
  let asked: { partNumber: number; etag: string }[];
  try { asked = readCompleteMultipart((await readCheckedBody(r, 4 << 20)).toString("utf8")); } catch (err) {
    if (err instanceof S3Error) throw err;
    throw s3err.malformedXml(err instanceof XmlError ? err.message : "the body is larger than 4 MiB");
  }
  const etag = `${createHash("md5").update(Buffer.concat(asked.map((a) => Buffer.from(a.etag, "hex")))).digest("hex")}-${asked.length}`;
  let rec: UploadRecord;
  try {
    rec = await readRecord(d, bucket, id);
  } catch (err) {
    // a retried Complete whose first try finished: the object is there with this very ETag
    const done = await d.client.rpc("get_paths", { domain: bucket, key, noverify: true, meta: true }).catch(() => null);
    if (done?.meta?.etag === etag) {
      sendXml(r, 200, doc("CompleteMultipartUploadResult", el("Location", `/${bucket}/${key}`), el("Bucket", bucket), el("Key", key), el("ETag", `"${etag}"`)));
      return;
    }
    throw err;
  }
  if (rec.key !== key) throw noSuchUpload(id);
  for (let i = 1; i < asked.length; i++) {
    if (asked[i].partNumber <= asked[i - 1].partNumber) throw new S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", { UploadId: id });
  }
  const have = new Map((await partsOf(d, bucket, id)).map((p) => [p.n, p]));
  const chosen = asked.map((a) => {
    const p = have.get(a.partNumber);
    if (!p || p.etag !== a.etag.toLowerCase()) {
      throw new S3Error(400, "InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.", { UploadId: id, PartNumber: String(a.partNumber) });
    }
    return p;
  });
  chosen.forEach((p, i) => {
    if (i < chosen.length - 1 && p.length < d.minPartBytes) {
      throw new S3Error(400, "EntityTooSmall", `Your proposed upload is smaller than the minimum allowed object size (each part but the last must be at least ${d.minPartBytes} bytes)`, { PartNumber: String(p.n), ProposedSize: String(p.length), MinSizeAllowed: String(d.minPartBytes) });
    }
  });
  // each part as checked above (its fid): a part uploaded again meanwhile fails the completion
  const sources = await locate(d.client, chosen.map((p) => ({ domain: MPU_DOMAIN, key: partKey(bucket, id, p.n), fid: p.fid, start: 0, length: p.length })),
    (s) => new S3Error(400, "InvalidPart", `part ${s.key.slice(-5)} was uploaded again while the upload was being completed`, { UploadId: id }));
  // S3 may answer 200 long before a big completion is done and send the result later; we answer
  // when the file is stored (clients wait; the SDKs allow minutes)
  await composeInto(d.client, d.clusterKey, bucket, key, sources, { ...(rec.class ? { class: rec.class } : {}), meta: () => ({ ...rec.meta, etag }) });
  await removeUpload(d, bucket, id).catch((err) => d.log.warn("multipart: parts not removed after completion (the sweep will)", { bucket, id, err: (err as Error).message }));
  sendXml(r, 200, doc("CompleteMultipartUploadResult", el("Location", `/${bucket}/${key}`), el("Bucket", bucket), el("Key", key), el("ETag", `"${etag}"`)));
}

export async function abortUpload(d: MultipartDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "write", bucket });
  const id = r.query.get("uploadId") ?? "";
  const rec = await readRecord(d, bucket, id);
  if (rec.key !== key) throw noSuchUpload(id);
  await removeUpload(d, bucket, id);
  sendEmpty(r, 204);
}

export async function listParts(d: MultipartDeps, r: S3Request, bucket: string, key: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket });
  const id = r.query.get("uploadId") ?? "";
  const rec = await readRecord(d, bucket, id);
  if (rec.key !== key) throw noSuchUpload(id);
  const marker = Number(r.query.get("part-number-marker") ?? "0") || 0;
  const max = Math.min(Number(r.query.get("max-parts") ?? "1000") || 1000, 1000);
  const parts = await partsOf(d, bucket, id, marker, max + 1);
  const page = parts.slice(0, max);
  const truncated = parts.length > max;
  sendXml(r, 200, doc("ListPartsResult", el("Bucket", bucket), el("Key", key), el("UploadId", id),
    el("PartNumberMarker", marker), truncated ? el("NextPartNumberMarker", page.at(-1)!.n) : null, el("MaxParts", max), el("IsTruncated", truncated),
    el("StorageClass", "STANDARD"),
    page.map((p) => el("Part", el("PartNumber", p.n), el("LastModified", isoDate(new Date(p.mtime))), el("ETag", `"${p.etag}"`), el("Size", p.length)))));
}

/** Open uploads (their records' ids and times) under `bucket` (every bucket when undefined). */
async function openUploads(d: MultipartDeps, bucket?: string): Promise<{ bucket: string; id: string; mtime: number }[]> {
  const out: { bucket: string; id: string; mtime: number }[] = [];
  const prefix = bucket === undefined ? "u/" : `u/${bucket}/`;
  let after: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    let got;
    try { got = await d.client.rpc("list_keys", { domain: MPU_DOMAIN, prefix, ...(after ? { after } : {}), limit: 1000, details: true }); } catch (err) {
      if (err instanceof MogileError && (err.code === "none_match" || err.code === "unreg_domain")) break;
      throw fromMogile(err);
    }
    for (const f of got.files ?? []) {
      const m = /^u\/(.+)\/([0-9a-f]{32})$/.exec(f.key);
      if (m && (bucket === undefined || m[1] === bucket)) out.push({ bucket: m[1], id: m[2], mtime: f.mtime });
    }
    if (got.key_count < 1000 && !got.truncated) break;
    after = got.next_after;
  }
  return out;
}

export async function listUploads(d: MultipartDeps, r: S3Request, bucket: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket });
  const prefix = r.query.get("prefix") ?? "";
  const ups = [];
  for (const u of await openUploads(d, bucket)) {
    const rec = await readRecord(d, bucket, u.id).catch(() => null);
    if (rec && rec.key.startsWith(prefix)) ups.push({ id: u.id, rec });
  }
  ups.sort((a, b) => (a.rec.key < b.rec.key ? -1 : a.rec.key > b.rec.key ? 1 : a.rec.initiated - b.rec.initiated));
  const max = Math.min(Number(r.query.get("max-uploads") ?? "1000") || 1000, 1000);
  sendXml(r, 200, doc("ListMultipartUploadsResult", el("Bucket", bucket), el("KeyMarker", ""), el("UploadIdMarker", ""), el("Prefix", prefix),
    el("MaxUploads", max), el("IsTruncated", ups.length > max),
    ups.slice(0, max).map((u) => el("Upload", el("Key", u.rec.key), el("UploadId", u.id), el("StorageClass", "STANDARD"), el("Initiated", isoDate(new Date(u.rec.initiated)))))));
}

/** where the previous sweep stopped in the parts (it goes on from there: bounded work per sweep) */
let partsCursor: string | undefined;

/**
 * Abort every upload whose record is older than `ttlMs` (abandoned), and remove parts older than
 * that whose upload is gone (a part that arrived after its upload was completed or aborted). Returns
 * how many uploads and stray parts were removed.
 */
export async function sweepUploads(d: MultipartDeps, ttlMs: number, pagesPerSweep = 20): Promise<number> {
  let n = 0;
  const live = new Set<string>();
  for (const u of await openUploads(d)) {
    if (Date.now() - u.mtime < ttlMs) { live.add(`${u.bucket}/${u.id}`); continue; }
    await removeUpload(d, u.bucket, u.id);
    n++;
  }
  for (let page = 0; page < pagesPerSweep; page++) {
    let got;
    try { got = await d.client.rpc("list_keys", { domain: MPU_DOMAIN, prefix: "p/", ...(partsCursor ? { after: partsCursor } : {}), limit: 1000, details: true }); } catch (err) {
      if (err instanceof MogileError && (err.code === "none_match" || err.code === "unreg_domain")) { partsCursor = undefined; break; }
      throw fromMogile(err);
    }
    for (const f of got.files ?? []) {
      const m = /^p\/(.+)\/([0-9a-f]{32})\/\d{5}$/.exec(f.key);
      if (!m || live.has(`${m[1]}/${m[2]}`) || Date.now() - f.mtime < ttlMs) continue;
      await d.client.delete(MPU_DOMAIN, f.key).catch(() => {});
      n++;
    }
    partsCursor = got.next_after;
    if (got.key_count < 1000 && !got.truncated) { partsCursor = undefined; break; }
  }
  if (n) d.log.info("multipart: removed abandoned uploads and stray parts", { count: n, ttlSec: Math.round(ttlMs / 1000) });
  return n;
}
