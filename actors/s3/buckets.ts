// Buckets are domains: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, and
// the listings (ListObjects v1 and v2) over list_keys with details.
import type { MogileClient } from "../../protocol/client.ts";
import { MogileError } from "../../protocol/errors.ts";
import type { ListedFile } from "../../protocol/schemas.ts";
import { fromMogile, S3Error, s3err } from "./errors.ts";
import { authorize, sees, type S3Keys } from "./auth.ts";
import { sendEmpty, sendXml, type S3Request } from "./request.ts";
import { etagOf, readCheckedBody } from "./objects.ts";
import { doc, el, isoDate, readCreateBucket, XmlError, type Child } from "./xml.ts";

export interface BucketDeps { client: MogileClient; keys: S3Keys; region: string; startedAt: Date }

/** S3's rules for new bucket names (existing domains with other names stay reachable). */
export function validBucketName(b: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b) && !b.includes("..") && !/^\d+\.\d+\.\d+\.\d+$/.test(b)
    && !b.startsWith("xn--") && !b.startsWith("sthree-") && !b.endsWith("-s3alias") && !b.endsWith("--ol-s3");
}

const owner = () => el("Owner", el("ID", "mogile"), el("DisplayName", "mogile"));

export async function listBuckets(d: BucketDeps, r: S3Request): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "key" });
  const { domains } = await d.client.rpc("get_domains", {}).catch((err) => { throw fromMogile(err); });
  // the hidden multipart domain starts with a dot: no valid bucket name does
  const mine = domains.filter((x) => sees(r.caller, x.domain) && !x.domain.startsWith(".")).map((x) => x.domain).sort();
  sendXml(r, 200, doc("ListAllMyBucketsResult", owner(), el("Buckets", mine.map((b) => el("Bucket", el("Name", b), el("CreationDate", isoDate(d.startedAt)))))));
}

async function exists(d: BucketDeps, bucket: string): Promise<boolean> {
  const { domains } = await d.client.rpc("get_domains", {}).catch((err) => { throw fromMogile(err); });
  return domains.some((x) => x.domain === bucket);
}

export async function createBucket(d: BucketDeps, r: S3Request, bucket: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "cluster" });
  if (!validBucketName(bucket)) throw s3err.invalidBucketName(bucket);
  let location: string | undefined;
  try { location = readCreateBucket((await readCheckedBody(r, 64 * 1024)).toString("utf8")); } catch (err) {
    if (err instanceof XmlError) throw s3err.malformedXml(err.message);
    throw err;
  }
  if (location !== undefined && location !== "" && location !== d.region) {
    throw new S3Error(400, "IllegalLocationConstraintException", `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to (${d.region}).`);
  }
  try {
    await d.client.rpc("create_domain", { domain: bucket });
  } catch (err) {
    throw fromMogile(err, bucket);
  }
  sendEmpty(r, 200, { location: `/${bucket}` });
}

export async function headBucket(d: BucketDeps, r: S3Request, bucket: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket });
  if (!(await exists(d, bucket))) throw s3err.noSuchBucket(bucket);
  sendEmpty(r, 200, { "x-amz-bucket-region": d.region });
}

export async function deleteBucket(d: BucketDeps, r: S3Request, bucket: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "admin", bucket });
  try {
    await d.client.rpc("delete_domain", { domain: bucket });
  } catch (err) {
    throw fromMogile(err, bucket);
  }
  sendEmpty(r, 204);
}

export async function bucketLocation(d: BucketDeps, r: S3Request, bucket: string): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket });
  if (!(await exists(d, bucket))) throw s3err.noSuchBucket(bucket);
  // us-east-1 is said as an empty constraint, as S3 does
  sendXml(r, 200, doc("LocationConstraint", d.region === "us-east-1" ? "" : d.region));
}

// ---- listings ----

interface Listing { contents: ListedFile[]; prefixes: string[]; truncated: boolean; last: string | null }
/** pages of list_keys one listing may read (each up to 1,000 keys): bounds a listing's work */
const MAX_PAGES = 1_000;
/** the longest key (and so the longest `after` list_keys takes) */
const MAX_KEY = 255;
/** an `after` past every key that starts with `p` (at the longest, p itself: no longer key exists) */
const past = (p: string) => (p.length >= MAX_KEY ? p.slice(0, MAX_KEY) : `${p}\uffff`);

/**
 * Keys after `after` under `prefix`, common prefixes rolled up at `delimiter`, up to `max` entries
 * (keys and prefixes together, as S3 counts them). A common prefix is skipped over once seen, and
 * `skip` (a common prefix a previous page ended with) is never listed again.
 */
async function listing(client: MogileClient, bucket: string, o: { prefix: string; delimiter: string; after: string; max: number; skip?: string }): Promise<Listing> {
  const out: Listing = { contents: [], prefixes: [], truncated: false, last: null };
  if (o.max === 0) return out;
  // a marker longer than any key: keys after it are those after its first 255 characters
  let after = o.after.slice(0, MAX_KEY);
  // list_keys wants `after` under the prefix: before it means from the start, past it means nothing
  if (after !== "" && !after.startsWith(o.prefix)) {
    if (after < o.prefix) after = "";
    else return out;
  }
  let lastPrefix = o.skip ?? null;
  const count = () => out.contents.length + out.prefixes.length;
  for (let page = 0; page < MAX_PAGES; page++) {
    let got;
    try {
      got = await client.rpc("list_keys", { domain: bucket, prefix: o.prefix, ...(after ? { after } : {}), limit: 1000, details: true });
    } catch (err) {
      if (err instanceof MogileError && err.code === "none_match") return out;
      throw fromMogile(err, bucket);
    }
    const files = got.files ?? [];
    let jumped = false;
    for (const f of files) {
      let cp: string | null = null;
      if (o.delimiter) {
        const i = f.key.indexOf(o.delimiter, o.prefix.length);
        if (i >= 0) cp = f.key.slice(0, i + o.delimiter.length);
      }
      if (cp !== null && cp === lastPrefix) { after = f.key; continue; }
      if (count() >= o.max) { out.truncated = true; return out; }
      if (cp !== null) {
        out.prefixes.push(cp);
        lastPrefix = cp;
        out.last = cp;
        // jump past every key under it (keys above U+FFFF that still start with it are skipped above)
        after = past(cp);
        jumped = true;
        break;
      }
      out.contents.push(f);
      out.last = f.key;
      after = f.key;
    }
    if (!jumped && files.length < 1000 && !got.truncated) return out;
  }
  // bounded: what was gathered is a truncated page
  out.truncated = true;
  return out;
}

const maxKeysOf = (q: URLSearchParams) => {
  const v = q.get("max-keys");
  if (v === null) return 1000;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw s3err.invalidArgument("max-keys must be a whole number");
  return Math.min(n, 1000);
};

export async function listObjects(d: BucketDeps, r: S3Request, bucket: string, v2: boolean): Promise<void> {
  await authorize(d.keys, r.caller, { kind: "bucket", access: "read", bucket });
  const q = r.query;
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const encodingType = q.get("encoding-type");
  if (encodingType !== null && encodingType !== "url") throw s3err.invalidArgument("Invalid Encoding Method specified in Request");
  const enc = (s: string) => (encodingType === "url" ? encodeURIComponent(s) : s);
  const max = maxKeysOf(q);
  let after = "";
  let skip: string | undefined;
  const token = q.get("continuation-token");
  if (v2) {
    if (token !== null) {
      const t = decodeToken(token);
      after = t.after;
      skip = t.prefix ? t.after : undefined;
      if (skip) after = past(skip);
    } else after = q.get("start-after") ?? "";
  } else after = q.get("marker") ?? "";
  // a v1 marker that is a common prefix: skip it as a whole
  if (!v2 && delimiter && after.endsWith(delimiter) && after.startsWith(prefix) && after.indexOf(delimiter, prefix.length) === after.length - delimiter.length) {
    skip = after;
    after = past(after);
  }
  if (!(await exists(d, bucket))) throw s3err.noSuchBucket(bucket);
  const l = await listing(d.client, bucket, { prefix, delimiter, after, max, skip });
  const contents: Child[] = l.contents.map((f) => el("Contents",
    el("Key", enc(f.key)), el("LastModified", isoDate(new Date(f.mtime))), el("ETag", `"${etagOf(f.etag, f.checksum, f.fid)}"`), el("Size", f.length),
    el("StorageClass", "STANDARD"), v2 && q.get("fetch-owner") !== "true" ? null : owner()));
  const prefixes: Child[] = l.prefixes.map((p) => el("CommonPrefixes", el("Prefix", enc(p))));
  const common: Child[] = [el("Name", bucket), el("Prefix", enc(prefix))];
  if (v2) {
    const lastIsPrefix = l.last !== null && l.prefixes.at(-1) === l.last;
    sendXml(r, 200, doc("ListBucketResult", common,
      q.has("start-after") ? el("StartAfter", enc(q.get("start-after")!)) : null,
      token !== null ? el("ContinuationToken", token) : null,
      l.truncated && l.last !== null ? el("NextContinuationToken", encodeToken(l.last, lastIsPrefix)) : null,
      el("KeyCount", l.contents.length + l.prefixes.length), el("MaxKeys", max),
      delimiter ? el("Delimiter", enc(delimiter)) : null,
      encodingType ? el("EncodingType", encodingType) : null,
      el("IsTruncated", l.truncated), contents, prefixes));
  } else {
    sendXml(r, 200, doc("ListBucketResult", common,
      el("Marker", enc(q.get("marker") ?? "")),
      // S3 gives NextMarker only with a delimiter; without one clients continue from the last key
      l.truncated && delimiter && l.last !== null ? el("NextMarker", enc(l.last)) : null,
      el("MaxKeys", max), delimiter ? el("Delimiter", enc(delimiter)) : null,
      encodingType ? el("EncodingType", encodingType) : null,
      el("IsTruncated", l.truncated), contents, prefixes));
  }
}

/** continuation tokens: where the page ended, and whether that was a common prefix (opaque to clients) */
function encodeToken(after: string, prefix: boolean): string {
  return Buffer.from(JSON.stringify({ a: after, p: prefix ? 1 : 0 })).toString("base64url");
}
function decodeToken(t: string): { after: string; prefix: boolean } {
  try {
    const v = JSON.parse(Buffer.from(t, "base64url").toString("utf8")) as { a?: unknown; p?: unknown };
    if (typeof v.a !== "string") throw new Error("no key");
    return { after: v.a, prefix: v.p === 1 };
  } catch {
    throw s3err.invalidArgument("The continuation token provided is incorrect");
  }
}

export { sendEmpty };
