// Integration: the S3 API on a real cluster, driven by the official AWS SDK for JavaScript v3 —
// buckets, objects with metadata, conditional and ranged reads, listings, deletes, presigned URLs,
// SigV4 failures, access scopes, and the same files seen from S3 and the classic protocol.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  S3Client, ListBucketsCommand, CreateBucketCommand, HeadBucketCommand, DeleteBucketCommand, GetBucketLocationCommand,
  PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, DeleteObjectsCommand,
  ListObjectsV2Command, ListObjectsCommand, GetBucketVersioningCommand, S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { signHeaders } from "../actors/s3/sigv4.ts";
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
});

t("s3 - streamed bodies (aws-chunked, signed or with a checksum trailer) are decoded and stored whole", async ({ tc, s3, admin }) => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  // a stream of known length: the SDK sends it aws-chunked with a CRC32 trailer
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "stream/trailer", Body: Readable.from([body.subarray(0, 1_000_000), body.subarray(1_000_000)]), ContentLength: body.length }));
  assert.ok((await bytesOf((await s3.send(new GetObjectCommand({ Bucket: B, Key: "stream/trailer" }))).Body)).equals(body));
  // checksums only when required: a plain signed payload (x-amz-content-sha256 = the body's SHA-256)
  const plain = clientFor(tc, admin.id, admin.secret, { requestChecksumCalculation: "WHEN_REQUIRED" });
  try {
    await plain.send(new PutObjectCommand({ Bucket: B, Key: "stream/plain", Body: body }));
    assert.ok((await bytesOf((await plain.send(new GetObjectCommand({ Bucket: B, Key: "stream/plain" }))).Body)).equals(body));
  } finally { plain.destroy(); }
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
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "both/from-classic" }));
    assert.is(h.ContentLength, classic.length);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: "both/" }));
    assert.equal(l.Contents?.map((c) => [c.Key, c.Size]), [["both/from-classic", classic.length], ["both/from-s3", body.length]]);
  } finally { tr.close(); }
});

t.run();
