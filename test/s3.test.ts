// Integration: the S3 API on a real cluster, driven by the official AWS SDK for JavaScript v3 —
// buckets, objects with metadata, conditional and ranged reads, listings, deletes, presigned URLs,
// SigV4 failures, access scopes, and the same files seen from S3 and the classic protocol.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO } from "../deploy/services.ts";
import {
  S3Client, ListBucketsCommand, CreateBucketCommand, HeadBucketCommand, DeleteBucketCommand, GetBucketLocationCommand,
  PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, DeleteObjectsCommand,
  ListObjectsV2Command, ListObjectsCommand, GetBucketVersioningCommand, S3ServiceException, CopyObjectCommand,
  CreateMultipartUploadCommand, UploadPartCommand, UploadPartCopyCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand,
  ListPartsCommand, ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { sweepUploads, MPU_DOMAIN } from "../actors/s3/multipart.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { signHeaders, signingKey, STREAMING_SIGNED, EMPTY_SHA256 } from "../actors/s3/sigv4.ts";
import { createHmac } from "node:crypto";
import http from "node:http";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { Tracker, store as classicStore, get as httpGet } from "./helpers/tracker.ts";

const B = "s3-test";
type Ctx = { tc: TestCluster; s3: S3Client; admin: { id: string; secret: string } };
const t = suite<Ctx>("s3");

const clientFor = (tc: TestCluster, id: string, secret: string, extra: Record<string, unknown> = {}) => new S3Client({
  endpoint: tc.cluster.s3Url, region: "us-east-1", forcePathStyle: true,
  credentials: { accessKeyId: id, secretAccessKey: secret }, maxAttempts: 1, ...extra,
});

t.before(async (ctx) => {
  ctx.tc = await startTestCluster("s3");
  const [id, secret] = ctx.tc.cluster.adminKey.split(":");
  ctx.admin = { id, secret };
  ctx.s3 = clientFor(ctx.tc, id, secret);
  await ctx.s3.send(new CreateBucketCommand({ Bucket: B }));
});
t.after(async (ctx) => {
  ctx.s3?.destroy();
  await ctx.tc?.stop();
});

/** the S3 error a command fails with (its code and HTTP status) */
async function s3Error(p: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { code: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  throw new Error("the command succeeded; an error was expected");
}
const md5 = (b: Buffer) => createHash("md5").update(b).digest();
const bytesOf = async (body: unknown) => Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
const exists = async (s3: S3Client, key: string) => s3.send(new HeadObjectCommand({ Bucket: B, Key: key })).then(() => true, (err) => {
  if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
  throw err;
});

t("s3 - buckets: create, list, head, location, bad names, not empty, delete", async ({ s3 }) => {
  const listed = await s3.send(new ListBucketsCommand({}));
  assert.ok(listed.Buckets?.some((b) => b.Name === B), "the bucket is listed");
  await s3.send(new HeadBucketCommand({ Bucket: B }));
  const loc = await s3.send(new GetBucketLocationCommand({ Bucket: B }));
  assert.ok(!loc.LocationConstraint, "us-east-1 is an empty location constraint");
  assert.is((await s3Error(s3.send(new CreateBucketCommand({ Bucket: B })))).code, "BucketAlreadyOwnedByYou");
  for (const bad of ["Upper", "a", "bad_name", "1.2.3.4", "-dash"]) {
    assert.is((await s3Error(s3.send(new CreateBucketCommand({ Bucket: bad })))).code, "InvalidBucketName", bad);
  }
  assert.is((await s3Error(s3.send(new HeadBucketCommand({ Bucket: "no-such-bucket" })))).status, 404);
  assert.is((await s3Error(s3.send(new ListObjectsV2Command({ Bucket: "no-such-bucket" })))).code, "NoSuchBucket");
  await s3.send(new CreateBucketCommand({ Bucket: "s3-doomed" }));
  await s3.send(new PutObjectCommand({ Bucket: "s3-doomed", Key: "x", Body: "x" }));
  assert.is((await s3Error(s3.send(new DeleteBucketCommand({ Bucket: "s3-doomed" })))).code, "BucketNotEmpty");
  await s3.send(new DeleteObjectCommand({ Bucket: "s3-doomed", Key: "x" }));
  await s3.send(new DeleteBucketCommand({ Bucket: "s3-doomed" }));
  assert.is((await s3Error(s3.send(new HeadBucketCommand({ Bucket: "s3-doomed" })))).status, 404);
  assert.is((await s3Error(s3.send(new GetBucketVersioningCommand({ Bucket: B })))).code, "NotImplemented");
});

t("s3 - put and get an object: bytes, ETag = MD5, stored headers and x-amz-meta-*, HEAD", async ({ s3 }) => {
  const body = randomBytes(100_000);
  const put = await s3.send(new PutObjectCommand({
    Bucket: B, Key: "docs/one file+ü.bin", Body: body, ContentType: "application/x-test", CacheControl: "max-age=60",
    ContentDisposition: "attachment; filename=\"one.bin\"", ContentEncoding: "identity", Metadata: { owner: "alice", "trace-id": "42" },
    ContentMD5: md5(body).toString("base64"),
  }));
  assert.is(put.ETag, `"${md5(body).toString("hex")}"`);
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: "docs/one file+ü.bin" }));
  assert.ok((await bytesOf(got.Body)).equals(body), "the bytes read are the bytes written");
  assert.is(got.ETag, put.ETag);
  assert.is(got.ContentType, "application/x-test");
  assert.is(got.CacheControl, "max-age=60");
  assert.is(got.ContentDisposition, "attachment; filename=\"one.bin\"");
  assert.equal(got.Metadata, { owner: "alice", "trace-id": "42" });
  assert.is(got.ContentLength, body.length);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "docs/one file+ü.bin" }));
  assert.is(head.ContentLength, body.length);
  assert.is(head.ETag, put.ETag);
  assert.equal(head.Metadata, { owner: "alice", "trace-id": "42" });
  assert.ok(head.LastModified instanceof Date && Math.abs(head.LastModified.getTime() - Date.now()) < 120_000);
  // an overwrite without metadata drops the old version's
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "docs/one file+ü.bin", Body: "v2" }));
  const v2 = await s3.send(new GetObjectCommand({ Bucket: B, Key: "docs/one file+ü.bin" }));
  assert.is((await bytesOf(v2.Body)).toString(), "v2");
  assert.equal(v2.Metadata ?? {}, {});
  assert.is(v2.CacheControl, undefined);
  assert.is(v2.ContentDisposition, undefined);
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "no/such/key" })))).code, "NoSuchKey");
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "k".repeat(300) })))).code, "NoSuchKey");
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: "k".repeat(300) }));
  // conditional writes are not done here: refused, not ignored
  assert.is((await s3Error(s3.send(new PutObjectCommand({ Bucket: B, Key: "docs/one file+ü.bin", Body: "v3", IfNoneMatch: "*" })))).code, "NotImplemented");
  assert.is((await bytesOf((await s3.send(new GetObjectCommand({ Bucket: B, Key: "docs/one file+ü.bin" }))).Body)).toString(), "v2");
});

t("s3 - only content headers and x-amz-meta-* ever come back as headers, whatever metadata a file carries", async ({ tc, s3 }) => {
  await tc.client.put(B, "meta/odd", Buffer.from("x"), { meta: { "set-cookie": "session=1", location: "http://elsewhere/", "x-amz-meta-ok": "yes", "content-type": "text/plain" } });
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: "meta/odd" }));
  await bytesOf(got.Body);
  assert.is(got.ContentType, "text/plain");
  assert.equal(got.Metadata, { ok: "yes" });
  const raw = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "meta/odd" }), { expiresIn: 60 }));
  assert.is(raw.headers.get("set-cookie"), null);
  assert.is(raw.headers.get("location"), null);
  await raw.arrayBuffer();
  // control characters in metadata are refused before anything is stored
  const bad = await tc.client.put(B, "meta/bad", Buffer.from("x"), { meta: { "x-amz-meta-a": "line\r\nbreak" } }).then(() => "stored", (err: Error) => err.message);
  assert.match(bad, /control characters/);
});

t("s3 - streamed bodies (aws-chunked, signed or with a checksum trailer) are decoded and stored whole", async ({ tc, s3, admin }) => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  // a stream of known length: the SDK sends it aws-chunked with a CRC32 trailer
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "stream/trailer", Body: Readable.from([body.subarray(0, 1_000_000), body.subarray(1_000_000)]), ContentLength: body.length }));
  const back = await s3.send(new GetObjectCommand({ Bucket: B, Key: "stream/trailer" }));
  assert.ok((await bytesOf(back.Body)).equals(body));
  assert.is(back.ContentEncoding, undefined, "aws-chunked is how the body came, not stored");
  // checksums only when required: a plain signed payload (x-amz-content-sha256 = the body's SHA-256)
  const plain = clientFor(tc, admin.id, admin.secret, { requestChecksumCalculation: "WHEN_REQUIRED" });
  try {
    await plain.send(new PutObjectCommand({ Bucket: B, Key: "stream/plain", Body: body }));
    assert.ok((await bytesOf((await plain.send(new GetObjectCommand({ Bucket: B, Key: "stream/plain" }))).Body)).equals(body));
  } finally { plain.destroy(); }
});

t("s3 - x-amz-storage-class names a class of the bucket's domain; S3's own class names mean the default class", async ({ tc, s3 }) => {
  await tc.client.rpc("create_class", { domain: B, class: "one-copy", mindevcount: 1 });
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "class/one", Body: "1", StorageClass: "one-copy" as never }));
  assert.is((await tc.client.fileInfo(B, "class/one")).class, "one-copy");
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "class/std", Body: "1", StorageClass: "STANDARD" }));
  assert.is((await tc.client.fileInfo(B, "class/std")).class, "default");
  assert.is((await s3Error(s3.send(new PutObjectCommand({ Bucket: B, Key: "class/bad", Body: "1", StorageClass: "no-such-class" as never })))).code, "InvalidStorageClass");
  assert.is(await exists(s3, "class/bad"), false);
});

/** A STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT (every chunk signed), as SDKs send over plain HTTP; `tamper` flips a data byte after signing. */
async function signedChunkedPut(ctx: Ctx, key: string, body: Buffer, chunk: number, tamper = false): Promise<{ status: number; text: string }> {
  const url = `${ctx.tc.cluster.s3Url}/${B}/${encodeURIComponent(key)}`;
  const headers = signHeaders({
    method: "PUT", url, accessKeyId: ctx.admin.id, secret: ctx.admin.secret, payloadHash: STREAMING_SIGNED,
    headers: { "content-encoding": "aws-chunked", "x-amz-decoded-content-length": String(body.length) },
  });
  const amzDate = headers["x-amz-date"];
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const key4 = signingKey(ctx.admin.secret, amzDate.slice(0, 8), "us-east-1", "s3");
  let prev = /Signature=([0-9a-f]{64})/.exec(headers.authorization)![1];
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const frames: Buffer[] = [];
  for (let off = 0; ; off += chunk) {
    const data = body.subarray(off, Math.min(off + chunk, body.length));
    const sig = createHmac("sha256", key4).update(["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, prev, EMPTY_SHA256, sha(data)].join("\n")).digest("hex");
    prev = sig;
    const out = Buffer.from(data);
    if (tamper && off === 0 && out.length) out[0] ^= 1;
    frames.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${sig}\r\n`), out, Buffer.from("\r\n"));
    if (data.length === 0) break;
  }
  const wire = Buffer.concat(frames);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { ...headers, "content-length": wire.length } }, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(wire);
  });
}

t("s3 - signed aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): every chunk's signature is checked; a tampered chunk stores nothing", async (ctx) => {
  const body = randomBytes(200_000);
  const ok = await signedChunkedPut(ctx, "chunked/signed", body, 65_536);
  assert.is(ok.status, 200, ok.text);
  assert.ok((await bytesOf((await ctx.s3.send(new GetObjectCommand({ Bucket: B, Key: "chunked/signed" }))).Body)).equals(body));
  const bad = await signedChunkedPut(ctx, "chunked/tampered", body, 65_536, true);
  assert.is(bad.status, 403, bad.text);
  assert.match(bad.text, /SignatureDoesNotMatch/);
  assert.is(await exists(ctx.s3, "chunked/tampered"), false);
});

t("s3 - a body that does not match its Content-MD5 is refused with BadDigest and nothing is stored", async ({ s3 }) => {
  const body = randomBytes(5000);
  const e = await s3Error(s3.send(new PutObjectCommand({ Bucket: B, Key: "bad/md5", Body: body, ContentMD5: md5(Buffer.from("other")).toString("base64") })));
  assert.is(e.code, "BadDigest");
  assert.is(await exists(s3, "bad/md5"), false, "nothing was linked");
});

t("s3 - ranges, conditional reads and response header overrides", async ({ s3 }) => {
  const body = Buffer.from("0123456789abcdefghij");
  const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: "cond", Body: body }));
  const part = await s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", Range: "bytes=5-9" }));
  assert.is((await bytesOf(part.Body)).toString(), "56789");
  assert.is(part.ContentRange, "bytes 5-9/20");
  const tail = await s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", Range: "bytes=-3" }));
  assert.is((await bytesOf(tail.Body)).toString(), "hij");
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", Range: "bytes=50-60" })))).code, "InvalidRange");
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", IfNoneMatch: put.ETag })))).status, 304);
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", IfMatch: "\"0000\"" })))).code, "PreconditionFailed");
  assert.is((await bytesOf((await s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", IfMatch: put.ETag }))).Body)).toString(), body.toString());
  const future = new Date(Date.now() + 3600_000);
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", IfModifiedSince: future })))).status, 304);
  assert.is((await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", IfUnmodifiedSince: new Date(Date.now() - 3600_000) })))).code, "PreconditionFailed");
  const o = await s3.send(new GetObjectCommand({ Bucket: B, Key: "cond", ResponseContentType: "text/plain", ResponseContentDisposition: "inline" }));
  assert.is(o.ContentType, "text/plain");
  assert.is(o.ContentDisposition, "inline");
  await bytesOf(o.Body);
});

t("s3 - listings: prefix, delimiter, common prefixes, pages in order (v2 tokens, v1 markers), url encoding", async ({ s3 }) => {
  const L = "s3-list";
  await s3.send(new CreateBucketCommand({ Bucket: L }));
  const keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e", "z/9/9"];
  for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: L, Key: k, Body: k }));
  const all = await s3.send(new ListObjectsV2Command({ Bucket: L }));
  assert.equal(all.Contents?.map((c) => c.Key), keys);
  assert.is(all.KeyCount, keys.length);
  assert.is(all.IsTruncated, false);
  assert.is(all.Contents?.[0].Size, 3);
  assert.is(all.Contents?.[0].ETag, `"${createHash("md5").update("a/1").digest("hex")}"`);
  const top = await s3.send(new ListObjectsV2Command({ Bucket: L, Delimiter: "/" }));
  assert.equal(top.CommonPrefixes?.map((p) => p.Prefix), ["a/", "b/", "z/"]);
  assert.equal(top.Contents?.map((c) => c.Key), ["c", "d e"]);
  const underA = await s3.send(new ListObjectsV2Command({ Bucket: L, Prefix: "a/", Delimiter: "/" }));
  assert.equal(underA.Contents?.map((c) => c.Key), ["a/1", "a/2"]);
  assert.equal(underA.CommonPrefixes?.map((p) => p.Prefix), ["a/b/"]);
  // one entry per page, keys and prefixes alike, through continuation tokens
  const seen: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 20; i++) {
    const p = await s3.send(new ListObjectsV2Command({ Bucket: L, Delimiter: "/", MaxKeys: 1, ContinuationToken: token }));
    seen.push(...(p.Contents ?? []).map((c) => c.Key!), ...(p.CommonPrefixes ?? []).map((c) => c.Prefix!));
    if (!p.IsTruncated) break;
    token = p.NextContinuationToken;
  }
  assert.equal(seen, ["a/", "b/", "c", "d e", "z/"]);
  const after = await s3.send(new ListObjectsV2Command({ Bucket: L, StartAfter: "b/1" }));
  assert.equal(after.Contents?.map((c) => c.Key), ["c", "d e", "z/9/9"]);
  // v1: markers (NextMarker with a delimiter)
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: L, MaxKeys: 2 }));
  assert.equal(v1.Contents?.map((c) => c.Key), ["a/1", "a/2"]);
  assert.is(v1.IsTruncated, true);
  const v1b = await s3.send(new ListObjectsCommand({ Bucket: L, MaxKeys: 2, Marker: "a/2" }));
  assert.equal(v1b.Contents?.map((c) => c.Key), ["a/b/3", "b/1"]);
  const v1d = await s3.send(new ListObjectsCommand({ Bucket: L, Delimiter: "/", MaxKeys: 2 }));
  assert.equal(v1d.CommonPrefixes?.map((p) => p.Prefix), ["a/", "b/"]);
  assert.is(v1d.NextMarker, "b/");
  const v1e = await s3.send(new ListObjectsCommand({ Bucket: L, Delimiter: "/", Marker: "b/" }));
  assert.equal([...(v1e.Contents ?? []).map((c) => c.Key), ...(v1e.CommonPrefixes ?? []).map((c) => c.Prefix)], ["c", "d e", "z/"]);
  const encoded = await s3.send(new ListObjectsV2Command({ Bucket: L, Prefix: "d", EncodingType: "url" }));
  assert.equal(encoded.Contents?.map((c) => c.Key), ["d%20e"]);
  const none = await s3.send(new ListObjectsV2Command({ Bucket: L, Prefix: "nothing" }));
  assert.is(none.KeyCount, 0);
  assert.ok(!none.Contents?.length);
});

t("s3 - delete one object (missing keys too) and many at once (quiet or not); malformed XML changes nothing", async ({ tc, s3, admin }) => {
  for (const k of ["del/1", "del/2", "del/3"]) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: "del/1" }));
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: "del/never-there" }));
  assert.is(await exists(s3, "del/1"), false);
  const r = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: "del/2" }, { Key: "del/missing" }] } }));
  assert.equal(r.Deleted?.map((d) => d.Key).sort(), ["del/2", "del/missing"]);
  assert.ok(!r.Errors?.length);
  const q = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: "del/3" }], Quiet: true } }));
  assert.ok(!q.Deleted?.length, "quiet: no Deleted entries");
  assert.is(await exists(s3, "del/3"), false);
  // a hand-signed POST ?delete with a broken body
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "del/kept", Body: "k" }));
  const url = `${tc.cluster.s3Url}/${B}?delete=`;
  const broken = "<Delete><Object><Key>del/kept</Key></Object>";
  const headers = signHeaders({ method: "POST", url, accessKeyId: admin.id, secret: admin.secret, payloadHash: createHash("sha256").update(broken).digest("hex") });
  delete headers.host;
  const res = await fetch(url, { method: "POST", headers, body: broken });
  assert.is(res.status, 400);
  assert.match(await res.text(), /<Code>MalformedXML<\/Code>/);
  assert.is(await exists(s3, "del/kept"), true);
});

t("s3 - presigned GET and PUT work; expired or tampered ones are refused", async ({ s3 }) => {
  const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: "pre/signed" }), { expiresIn: 300 });
  assert.is((await fetch(putUrl, { method: "PUT", body: "presigned body" })).status, 200);
  const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "pre/signed" }), { expiresIn: 300 });
  const got = await fetch(getUrl);
  assert.is(got.status, 200);
  assert.is(await got.text(), "presigned body");
  const tampered = getUrl.replace("pre/signed", "pre/other");
  const t1 = await fetch(tampered);
  assert.is(t1.status, 403);
  assert.match(await t1.text(), /SignatureDoesNotMatch/);
  const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "pre/signed" }), { expiresIn: 1, signingDate: new Date(Date.now() - 3600_000) });
  const t2 = await fetch(old);
  assert.is(t2.status, 403);
  assert.match(await t2.text(), /<Code>AccessDenied<\/Code>[\s\S]*expired/);
});

t("s3 - wrong secret, unknown key, clock skew, anonymous writes and missing scopes are refused; nothing changes", async ({ tc, s3, admin }) => {
  const wrong = clientFor(tc, admin.id, "x".repeat(40));
  assert.is((await s3Error(wrong.send(new PutObjectCommand({ Bucket: B, Key: "deny/1", Body: "x" })))).code, "SignatureDoesNotMatch");
  wrong.destroy();
  const unknown = clientFor(tc, "MKAAAAAAAAAAAAAAAAAA", "x".repeat(40));
  assert.is((await s3Error(unknown.send(new ListBucketsCommand({})))).code, "InvalidAccessKeyId");
  unknown.destroy();
  const skewed = clientFor(tc, admin.id, admin.secret, { systemClockOffset: -3600_000 });
  // the SDK corrects its clock from a RequestTimeTooSkewed answer and retries: allow no retry
  assert.is((await s3Error(skewed.send(new PutObjectCommand({ Bucket: B, Key: "deny/2", Body: "x" })))).code, "RequestTimeTooSkewed");
  skewed.destroy();
  const anon = await fetch(`${tc.cluster.s3Url}/${B}/deny/3`, { method: "PUT", body: "x" });
  assert.is(anon.status, 403);
  assert.match(await anon.text(), /AccessDenied/);
  // a key that may only read this bucket
  const k = await tc.client.rpc("key_add", { name: "s3-reader", scopes: [{ domain: B, access: "read" }] });
  const reader = clientFor(tc, k.id, k.secret);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "deny/readable", Body: "r" }));
  assert.is((await bytesOf((await reader.send(new GetObjectCommand({ Bucket: B, Key: "deny/readable" }))).Body)).toString(), "r");
  assert.is((await s3Error(reader.send(new PutObjectCommand({ Bucket: B, Key: "deny/4", Body: "x" })))).code, "AccessDenied");
  assert.is((await s3Error(reader.send(new DeleteObjectCommand({ Bucket: B, Key: "deny/readable" })))).code, "AccessDenied");
  assert.is((await s3Error(reader.send(new CreateBucketCommand({ Bucket: "s3-not-mine" })))).code, "AccessDenied");
  const buckets = await reader.send(new ListBucketsCommand({}));
  assert.equal(buckets.Buckets?.map((b) => b.Name), [B], "a scoped key sees its buckets only");
  // revoked: refused at once
  await tc.client.rpc("key_revoke", { id: k.id });
  const revoked = await s3Error(reader.send(new GetObjectCommand({ Bucket: B, Key: "deny/readable" })));
  assert.is(revoked.code, "InvalidAccessKeyId");
  reader.destroy();
  for (const key of ["deny/1", "deny/2", "deny/3", "deny/4"]) assert.is(await exists(s3, key), false, `${key} was not stored`);
  assert.is(await exists(s3, "deny/readable"), true);
});

t("s3 - one namespace: an S3 PUT is read by a classic client, a classic store by S3 (GET, HEAD, listing)", async ({ tc, s3 }) => {
  const body = randomBytes(20_000);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "both/from-s3", Body: body }));
  const tr = await Tracker.connect(tc.cluster.legacyPort);
  try {
    const p = await tr.ok("get_paths", { domain: B, key: "both/from-s3" });
    const got = await httpGet(p.path1);
    assert.is(got.status, 200);
    assert.ok(got.body.equals(body), "the classic client reads the S3 object's bytes");
    const classic = randomBytes(7000);
    await classicStore(tr, B, "both/from-classic", classic);
    const o = await s3.send(new GetObjectCommand({ Bucket: B, Key: "both/from-classic" }));
    assert.ok((await bytesOf(o.Body)).equals(classic));
    assert.is(o.ContentType, "binary/octet-stream");
    assert.match(o.ETag ?? "", /^"[0-9a-f]+-1"$/, "no MD5 known: a tag clients do not check bodies against");
    const listedClassic = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: "both/from-classic" }));
    assert.is(listedClassic.Contents?.[0].ETag, o.ETag, "the listing gives the same ETag as a read");
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "both/from-classic" }));
    assert.is(h.ContentLength, classic.length);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: "both/" }));
    assert.equal(l.Contents?.map((c) => [c.Key, c.Size]), [["both/from-classic", classic.length], ["both/from-s3", body.length]]);
  } finally { tr.close(); }
});

t("s3 - CopyObject storage to storage: metadata COPY or REPLACE, conditions, no copy onto itself", async ({ s3 }) => {
  const body = randomBytes(300_000);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "copy/src", Body: body, ContentType: "image/png", Metadata: { a: "1" } }));
  const c = await s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy/dst", CopySource: `${B}/copy/src` }));
  assert.is(c.CopyObjectResult?.ETag, `"${md5(body).toString("hex")}"`, "the copy's ETag is the MD5 of its bytes");
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: "copy/dst" }));
  assert.ok((await bytesOf(got.Body)).equals(body));
  assert.is(got.ContentType, "image/png");
  assert.equal(got.Metadata, { a: "1" });
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy/replaced", CopySource: encodeURIComponent(`${B}/copy/src`), MetadataDirective: "REPLACE", ContentType: "text/plain", Metadata: { b: "2" } }));
  const rep = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "copy/replaced" }));
  assert.is(rep.ContentType, "text/plain");
  assert.equal(rep.Metadata, { b: "2" });
  assert.is((await s3Error(s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy/src", CopySource: `${B}/copy/src` })))).code, "InvalidRequest");
  assert.is((await s3Error(s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy/x", CopySource: `${B}/copy/none` })))).code, "NoSuchKey");
  assert.is((await s3Error(s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy/y", CopySource: `${B}/copy/src`, CopySourceIfMatch: "\"0\"" })))).code, "PreconditionFailed");
  assert.is(await exists(s3, "copy/y"), false);
});

const MiB = 1024 * 1024;
t("s3 - multipart: create, parts (one copied from an object), list parts and uploads, complete into one fid a classic client reads", async ({ tc, s3 }) => {
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB + 123), randomBytes(777)];
  const src = randomBytes(6 * MiB);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "mpu/src", Body: src }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: "mpu/big", ContentType: "video/mp4", Metadata: { m: "x" } }));
  assert.ok(UploadId);
  const e1 = (await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/big", UploadId, PartNumber: 1, Body: parts[0] }))).ETag!;
  const e2 = (await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/big", UploadId, PartNumber: 2, Body: parts[1] }))).ETag!;
  // part 3 first as a copy of a range of another object, then replaced by an upload
  const copied = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: "mpu/big", UploadId, PartNumber: 3, CopySource: `${B}/mpu/src`, CopySourceRange: "bytes=100-5242979" }));
  assert.is(copied.CopyPartResult?.ETag, `"${md5(src.subarray(100, 5242980)).toString("hex")}"`);
  const e4 = copied.CopyPartResult!.ETag!;
  const e3 = (await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/big", UploadId, PartNumber: 4, Body: parts[2] }))).ETag!;
  const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key: "mpu/big", UploadId }));
  assert.equal(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]), [[1, parts[0].length, e1], [2, parts[1].length, e2], [3, 5242880, e4], [4, 777, e3]]);
  // parts are protected on the storage nodes: a plain GET of a part's copy is refused
  const partPaths = await tc.client.rpc("get_paths", { domain: MPU_DOMAIN, key: `p/${B}/${UploadId}/00001`, noverify: true });
  assert.is((await httpGet(partPaths.paths[0])).status, 200, "the signed path reads");
  assert.is((await httpGet(partPaths.paths[0].split("?")[0])).status, 403, "the plain path does not");
  const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket: B }));
  assert.ok(ups.Uploads?.some((u) => u.UploadId === UploadId && u.Key === "mpu/big"));
  // bad completions change nothing
  assert.is((await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: "mpu/big", UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: e2 }, { PartNumber: 1, ETag: e1 }] } })))).code, "InvalidPartOrder");
  assert.is((await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: "mpu/big", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e2 }] } })))).code, "InvalidPart");
  assert.is((await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: "mpu/big", UploadId, MultipartUpload: { Parts: [{ PartNumber: 4, ETag: e3 }, { PartNumber: 5, ETag: e3 }] } })))).code, "InvalidPart");
  // a part below the minimum anywhere but last
  const e5 = (await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/big", UploadId, PartNumber: 5, Body: "tiny" }))).ETag!;
  assert.is((await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: "mpu/big", UploadId, MultipartUpload: { Parts: [{ PartNumber: 4, ETag: e3 }, { PartNumber: 5, ETag: e5 }] } })))).code, "EntityTooSmall");
  assert.is(await exists(s3, "mpu/big"), false);
  // parts 1, 2, 3 (the copied one) and 4
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: "mpu/big", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }, { PartNumber: 3, ETag: e4 }, { PartNumber: 4, ETag: e3 }] } }));
  const whole = Buffer.concat([parts[0], parts[1], src.subarray(100, 5242980), parts[2]]);
  const partMd5s = Buffer.concat([parts[0], parts[1], src.subarray(100, 5242980), parts[2]].map(md5));
  assert.is(done.ETag, `"${createHash("md5").update(partMd5s).digest("hex")}-4"`);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "mpu/big" }));
  assert.is(head.ContentLength, whole.length);
  assert.is(head.ContentType, "video/mp4");
  assert.equal(head.Metadata, { m: "x" });
  // one fid, with every copy its class wants, read by a classic client
  const info = await tc.client.fileInfo(B, "mpu/big");
  assert.is(info.length, whole.length);
  assert.ok(info.devcount >= 2, `copies: ${info.devcount}`);
  const tr = await Tracker.connect(tc.cluster.legacyPort);
  try {
    const p = await tr.ok("get_paths", { domain: B, key: "mpu/big" });
    for (let i = 1; i <= Number(p.paths); i++) assert.ok((await httpGet(p[`path${i}`])).body.equals(whole), `copy ${i} holds the whole object`);
  } finally { tr.close(); }
  // the parts are gone; the upload too
  assert.is((await s3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: "mpu/big", UploadId })))).code, "NoSuchUpload");
  const left = await tc.client.rpc("list_keys", { domain: MPU_DOMAIN, prefix: `p/${B}/${UploadId}/` }).catch((err) => err);
  assert.is((left as { code?: string }).code, "none_match", "no part is left");
  const buckets = await s3.send(new ListBucketsCommand({}));
  assert.ok(!buckets.Buckets?.some((b) => b.Name === MPU_DOMAIN), "the parts' domain is not a bucket");
});

t("s3 - multipart through lib-storage (streamed, 4 parts); abort removes parts; abandoned uploads are swept", async ({ tc, s3 }) => {
  const body = randomBytes(16 * MiB + 5);
  const up = new Upload({ client: s3, params: { Bucket: B, Key: "mpu/lib", Body: Readable.from([body.subarray(0, 7 * MiB), body.subarray(7 * MiB)]) }, partSize: 5 * MiB, queueSize: 2 });
  const r = await up.done();
  assert.match(String(r.ETag), /-4"$/);
  assert.ok((await bytesOf((await s3.send(new GetObjectCommand({ Bucket: B, Key: "mpu/lib" }))).Body)).equals(body));
  const a = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: "mpu/aborted" }));
  await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/aborted", UploadId: a.UploadId, PartNumber: 1, Body: "p" }));
  await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: "mpu/aborted", UploadId: a.UploadId }));
  assert.is((await s3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/aborted", UploadId: a.UploadId, PartNumber: 2, Body: "p" })))).code, "NoSuchUpload");
  assert.is((await s3Error(s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/aborted", UploadId: "nonsense", PartNumber: 1, Body: "p" })))).code, "NoSuchUpload");
  // an upload nobody finishes: the sweep (here run at once with a zero TTL) removes it and its parts
  const stale = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: "mpu/stale" }));
  await s3.send(new UploadPartCommand({ Bucket: B, Key: "mpu/stale", UploadId: stale.UploadId, PartNumber: 1, Body: "p" }));
  const swept = await sweepUploads({ client: tc.client, keys: null as never, maxObjectBytes: 1, clusterKey: Buffer.alloc(32), minPartBytes: 1, log: createLogger({ role: "test" }, "error") }, 0);
  assert.ok(swept >= 1, `swept ${swept}`);
  assert.is((await s3Error(s3.send(new ListPartsCommand({ Bucket: B, Key: "mpu/stale", UploadId: stale.UploadId })))).code, "NoSuchUpload");
  const left = await tc.client.rpc("list_keys", { domain: MPU_DOMAIN, prefix: `p/${B}/${stale.UploadId}/` }).catch((err) => err);
  assert.is((left as { code?: string }).code, "none_match");
});

/** the AWS CLI (a second real client; `npm test` installs it into .tools/awscli) */
const AWS = path.join(REPO, ".tools", "awscli", "bin", "aws");
function aws(ctx: Ctx, args: string[], timeoutMs = 300_000): Promise<string> {
  const cfg = path.join(ctx.tc.dataDir, "aws-config");
  if (!existsSync(cfg)) writeFileSync(cfg, "[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n");
  return new Promise((resolve, reject) => {
    execFile(AWS, ["--endpoint-url", ctx.tc.cluster.s3Url, ...args], {
      timeout: timeoutMs, maxBuffer: 16 << 20,
      env: { PATH: process.env.PATH, HOME: ctx.tc.dataDir, AWS_CONFIG_FILE: cfg, AWS_SHARED_CREDENTIALS_FILE: "/dev/null", AWS_ACCESS_KEY_ID: ctx.admin.id, AWS_SECRET_ACCESS_KEY: ctx.admin.secret },
    }, (err, stdout, stderr) => (err ? reject(new Error(`aws ${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}
const tree = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();

t("s3 - the AWS CLI: make a bucket, copy up and down (a 64 MiB file in parts), list, sync a tree both ways, remove", async (ctx) => {
  assert.ok(existsSync(AWS), `the AWS CLI is installed by \`npm test\` (bash deploy/setup.sh test) at ${AWS}`);
  const dir = path.join(ctx.tc.dataDir, "aws-files");
  mkdirSync(path.join(dir, "up", "sub", "deeper"), { recursive: true });
  const big = randomBytes(64 * MiB);
  writeFileSync(path.join(dir, "big.bin"), big);
  const files: Record<string, Buffer> = { "a.txt": Buffer.from("alpha"), "sub/b.bin": randomBytes(70_000), "sub/deeper/c d.txt": Buffer.from("with a space") };
  for (const [name, b] of Object.entries(files)) writeFileSync(path.join(dir, "up", name), b);
  await aws(ctx, ["s3", "mb", "s3://s3-cli"]);
  assert.match(await aws(ctx, ["s3", "ls"]), /s3-cli/);
  await aws(ctx, ["s3", "cp", path.join(dir, "big.bin"), "s3://s3-cli/big/big.bin"]);
  const head = JSON.parse(await aws(ctx, ["s3api", "head-object", "--bucket", "s3-cli", "--key", "big/big.bin"])) as { ContentLength: number; ETag: string };
  assert.is(head.ContentLength, big.length);
  assert.match(head.ETag, /-\d+"$/, "uploaded in parts");
  await aws(ctx, ["s3", "cp", "s3://s3-cli/big/big.bin", path.join(dir, "big.down")]);
  assert.ok(readFileSync(path.join(dir, "big.down")).equals(big), "the 64 MiB file came back whole");
  await aws(ctx, ["s3", "sync", path.join(dir, "up"), "s3://s3-cli/tree/"]);
  const ls = await aws(ctx, ["s3", "ls", "--recursive", "s3://s3-cli/tree/"]);
  for (const name of Object.keys(files)) assert.ok(ls.includes(`tree/${name}`), `${name} listed:\n${ls}`);
  await aws(ctx, ["s3", "sync", "s3://s3-cli/tree/", path.join(dir, "down")]);
  assert.equal(tree(path.join(dir, "down")), Object.keys(files).sort());
  for (const [name, b] of Object.entries(files)) assert.ok(readFileSync(path.join(dir, "down", name)).equals(b), `${name} synced back whole`);
  // a second sync finds nothing to do
  assert.is((await aws(ctx, ["s3", "sync", path.join(dir, "up"), "s3://s3-cli/tree/"])).trim(), "");
  await aws(ctx, ["s3", "rm", "--recursive", "s3://s3-cli/"]);
  await aws(ctx, ["s3", "rb", "s3://s3-cli"]);
  assert.ok(!(await aws(ctx, ["s3", "ls"])).includes("s3-cli"));
});

t.run();
