// SigV4 for the S3 API: the documented AWS examples verify (header, presigned, chunked), anything
// changed or stale is refused with S3's error codes, aws-chunked bodies decode across any split and
// fail on a bad signature, checksum or length, and whole-body digests are checked.
import { CheckedBody } from "../actors/s3/objects.ts";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  canonicalRequest, parseAuth, presign, signHeaders, signingKey, verify,
  SigV4Error, EMPTY_SHA256, type Parsed, type SigRequest,
} from "../actors/s3/sigv4.ts";
import { chunkedDecoder } from "../actors/s3/aws_chunked.ts";

// The AWS documentation examples (S3 API reference, "Signature Calculations for the Authorization
// Header", "Authenticating Requests: Using Query Parameters", "Transferring Payload in Multiple Chunks")
const AK = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST = "examplebucket.s3.amazonaws.com";
const AMZ_DATE = "20130524T000000Z";
const T0 = Date.UTC(2013, 4, 24);
const CRED = `${AK}/20130524/us-east-1/s3/aws4_request`;

const authz = (signed: string, sig: string) => `AWS4-HMAC-SHA256 Credential=${CRED},SignedHeaders=${signed},Signature=${sig}`;

/** the error code f throws, "ok" when it does not */
function code(f: () => unknown): string {
  try { f(); } catch (err) { return (err as SigV4Error).code ?? String(err); }
  return "ok";
}
/** parse then verify: the error code or "ok" */
const check = (req: SigRequest, secret = SECRET, now = T0) => code(() => verify(req, parseAuth(req)!, secret, now));

const getObject = (): SigRequest => ({
  method: "GET", rawPath: "/test.txt", rawQuery: "",
  headers: {
    host: HOST, range: "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": AMZ_DATE,
    authorization: authz("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
  },
});
const PUT_SHA = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
const putObject = (rawPath = "/test%24file.text"): SigRequest => ({
  method: "PUT", rawPath, rawQuery: "",
  headers: {
    host: HOST, date: "Fri, 24 May 2013 00:00:00 GMT", "x-amz-content-sha256": PUT_SHA, "x-amz-date": AMZ_DATE,
    "x-amz-storage-class": "REDUCED_REDUNDANCY",
    authorization: authz("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
  },
});
const bucketGet = (rawQuery: string, sig: string): SigRequest => ({
  method: "GET", rawPath: "/", rawQuery,
  headers: { host: HOST, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": AMZ_DATE, authorization: authz("host;x-amz-content-sha256;x-amz-date", sig) },
});
const LIFECYCLE_SIG = "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543";
const LIST_SIG = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
const PRESIGNED = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z" +
  "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
const fromUrl = (url: string, method = "GET", headers: SigRequest["headers"] = {}): SigRequest => {
  const u = new URL(url);
  return { method, rawPath: u.pathname, rawQuery: u.search.slice(1), headers: { host: u.host, ...headers } };
};

// ---- header and query auth ----

const h = suite("s3 sigv4 auth");

h("the AWS GET Object example verifies, and its canonical request is the documented one", () => {
  const req = getObject();
  const p = parseAuth(req)!;
  assert.equal(
    { ...p },
    {
      kind: "header", accessKeyId: AK, date: "20130524", region: "us-east-1", service: "s3", amzDate: AMZ_DATE,
      signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
      signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", payloadHash: EMPTY_SHA256,
    },
  );
  assert.is(canonicalRequest(req, p.signedHeaders, p.payloadHash, false), [
    "GET", "/test.txt", "",
    `host:${HOST}`, "range:bytes=0-9", `x-amz-content-sha256:${EMPTY_SHA256}`, `x-amz-date:${AMZ_DATE}`, "",
    "host;range;x-amz-content-sha256;x-amz-date", EMPTY_SHA256,
  ].join("\n"));
  const r = verify(req, p, SECRET, T0);
  assert.is(r.seedSignature, p.signature);
  assert.is(r.scope, "20130524/us-east-1/s3/aws4_request");
  assert.ok(r.signingKey.equals(signingKey(SECRET, "20130524", "us-east-1", "s3")));
});

h("the AWS PUT Object example verifies: $ in the key, Date and x-amz-date both signed", () => {
  const req = putObject();
  const p = parseAuth(req)!;
  assert.is(canonicalRequest(req, p.signedHeaders, p.payloadHash, false), [
    "PUT", "/test%24file.text", "",
    "date:Fri, 24 May 2013 00:00:00 GMT", `host:${HOST}`, `x-amz-content-sha256:${PUT_SHA}`, `x-amz-date:${AMZ_DATE}`,
    "x-amz-storage-class:REDUCED_REDUNDANCY", "",
    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", PUT_SHA,
  ].join("\n"));
  assert.is(check(req), "ok");
  // the key as a client may send it unescaped, or with a lowercase escape: the same canonical URI
  assert.is(check(putObject("/test$file.text")), "ok");
  assert.is(check(putObject("/test%24file%2etext")), "ok");
});

h("the AWS bucket examples verify: a parameter without a value, and sorted parameters", () => {
  assert.is(check(bucketGet("lifecycle", LIFECYCLE_SIG)), "ok");
  assert.is(check(bucketGet("lifecycle=", LIFECYCLE_SIG)), "ok", "no '=' means an empty value");
  assert.is(check(bucketGet("max-keys=2&prefix=J", LIST_SIG)), "ok");
  assert.is(check(bucketGet("prefix=J&max-keys=2", LIST_SIG)), "ok", "order on the wire does not matter");
  assert.is(check(bucketGet("max-keys=3&prefix=J", LIST_SIG)), "SignatureDoesNotMatch");
  assert.is(check(bucketGet("max-keys=2&prefix=J&x=1", LIST_SIG)), "SignatureDoesNotMatch");
});

h("a wrong secret, a changed header, method, path or payload hash: SignatureDoesNotMatch", () => {
  assert.is(check(getObject(), SECRET.replace("K7", "K8")), "SignatureDoesNotMatch");
  const tamper = (f: (r: SigRequest) => void) => { const r = getObject(); f(r); return check(r); };
  assert.is(tamper((r) => { r.headers.range = "bytes=0-99"; }), "SignatureDoesNotMatch");
  assert.is(tamper((r) => { r.headers.host = "otherbucket.s3.amazonaws.com"; }), "SignatureDoesNotMatch");
  assert.is(tamper((r) => { r.method = "DELETE"; }), "SignatureDoesNotMatch");
  assert.is(tamper((r) => { r.rawPath = "/test.txT"; }), "SignatureDoesNotMatch");
  assert.is(tamper((r) => { r.headers["x-amz-content-sha256"] = PUT_SHA; }), "SignatureDoesNotMatch");
  assert.is(tamper((r) => { delete r.headers.range; }), "SignatureDoesNotMatch", "a signed header gone");
  assert.is(tamper((r) => { r.rawPath = "/test%zz.txt"; }), "SignatureDoesNotMatch", "undecodable path");
  // whitespace is canonicalised, so folding does not break a signature
  assert.is(tamper((r) => { r.headers.range = "  bytes=0-9 "; }), "ok");
});

h("canonical form: values trimmed with inner whitespace runs collapsed, arrays joined with commas, query encoded RFC 3986", () => {
  const req: SigRequest = {
    method: "get", rawPath: "/b/a%2Fb/%E2%9C%93 x+y/", rawQuery: "z=%7e&a=2&a=1&b&c=d=e&k%20=v+w&e=%2a",
    headers: { host: "h", "x-amz-meta-a": " one  two\t three ", "x-amz-meta-b": ["1", " 2 "] },
  };
  assert.is(canonicalRequest(req, ["host", "x-amz-meta-a", "x-amz-meta-b"], "UNSIGNED-PAYLOAD", false), [
    "GET", "/b/a%2Fb/%E2%9C%93%20x%2By/", "a=1&a=2&b=&c=d%3De&e=%2A&k%20=v%2Bw&z=~",
    "host:h", "x-amz-meta-a:one two three", "x-amz-meta-b:1,2", "",
    "host;x-amz-meta-a;x-amz-meta-b", "UNSIGNED-PAYLOAD",
  ].join("\n"));
  assert.is(canonicalRequest({ ...req, rawPath: "" , rawQuery: "X-Amz-Signature=abc&x=1" }, ["host"], EMPTY_SHA256, true).split("\n").slice(0, 3).join("|"), "GET|/|x=1");
  assert.is(canonicalRequest({ ...req, rawQuery: "X-Amz-Signature=abc" }, ["host"], EMPTY_SHA256, false).split("\n")[2], "X-Amz-Signature=abc");
});

h("the time: more than 15 minutes of skew either way is RequestTimeTooSkewed", () => {
  const min = 60_000;
  assert.is(check(getObject(), SECRET, T0 + 14 * min), "ok");
  assert.is(check(getObject(), SECRET, T0 - 14 * min), "ok");
  assert.is(check(getObject(), SECRET, T0 + 16 * min), "RequestTimeTooSkewed");
  assert.is(check(getObject(), SECRET, T0 - 16 * min), "RequestTimeTooSkewed");
});

h("the date: the Date header stands in for x-amz-date; without either, AccessDenied", () => {
  const amzDate = "20240301T101500Z";
  const now = Date.UTC(2024, 2, 1, 10, 15);
  const req: SigRequest = {
    method: "GET", rawPath: "/b/k", rawQuery: "",
    headers: { host: "h:9000", date: "Fri, 01 Mar 2024 10:15:00 GMT", "x-amz-content-sha256": EMPTY_SHA256 },
  };
  const signed = ["date", "host", "x-amz-content-sha256"];
  const cr = canonicalRequest(req, signed, EMPTY_SHA256, false);
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n20240301/eu-west-1/s3/aws4_request\n${createHash("sha256").update(cr).digest("hex")}`;
  const sig = createHmac("sha256", signingKey("s3cr3t", "20240301", "eu-west-1", "s3")).update(sts).digest("hex");
  req.headers.authorization = `AWS4-HMAC-SHA256 Credential=AK/20240301/eu-west-1/s3/aws4_request, SignedHeaders=${signed.join(";")}, Signature=${sig}`;
  assert.is(parseAuth(req)!.amzDate, amzDate);
  assert.is(check(req, "s3cr3t", now), "ok");
  delete req.headers.date;
  assert.is(code(() => parseAuth(req)), "AccessDenied");
  req.headers["x-amz-date"] = "20240230T101500Z";
  assert.is(code(() => parseAuth(req)), "AccessDenied", "no such day");
});

h("a malformed Authorization header is AuthorizationHeaderMalformed; none at all is anonymous", () => {
  const sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
  const withAuth = (a: string) => { const r = getObject(); r.headers.authorization = a; return code(() => parseAuth(r)); };
  assert.is(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;range`), "AuthorizationHeaderMalformed");
  assert.is(withAuth(`AWS4-HMAC-SHA256 Credential=${AK}/20130524/us-east-1/s3, SignedHeaders=host, Signature=${sig}`), "AuthorizationHeaderMalformed");
  assert.is(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=xyz`), "AuthorizationHeaderMalformed");
  assert.is(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${sig}, Signature=${sig}`), "AuthorizationHeaderMalformed");
  assert.is(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;;date, Signature=${sig}`), "AuthorizationHeaderMalformed");
  assert.is(withAuth(`AWS4-HMAC-SHA512 Credential=${CRED}, SignedHeaders=host, Signature=${sig}`), "AuthorizationHeaderMalformed");
  assert.is(withAuth("Bearer abc"), "AuthorizationHeaderMalformed");
  assert.is(withAuth(""), "AuthorizationHeaderMalformed");
  assert.is(withAuth("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="), "InvalidArgument", "SigV2");
  // spaces or none after the commas
  assert.is(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=${sig}`), "ok");

  assert.is(parseAuth({ method: "GET", rawPath: "/b/k", rawQuery: "prefix=a", headers: { host: "h" } }), null);
  assert.is(code(() => parseAuth({ method: "GET", rawPath: "/k", rawQuery: "AWSAccessKeyId=a&Expires=1&Signature=x", headers: { host: "h" } })), "InvalidArgument");
  const both = fromUrl(PRESIGNED, "GET", { authorization: getObject().headers.authorization });
  assert.is(code(() => parseAuth(both)), "InvalidArgument", "header and query auth at once");
});

h("verify checks the scope, host signed, x-amz-* headers signed and the payload hash header", () => {
  const scopeOf = (f: (p: Parsed) => void) => { const req = getObject(); const p = parseAuth(req)!; f(p); return code(() => verify(req, p, SECRET, T0)); };
  assert.is(scopeOf((p) => { p.service = "ec2"; }), "AuthorizationHeaderMalformed");
  assert.is(scopeOf((p) => { p.date = "20130523"; }), "AuthorizationHeaderMalformed");
  assert.is(scopeOf((p) => { p.signedHeaders = p.signedHeaders.filter((x) => x !== "host"); }), "AuthorizationHeaderMalformed");
  assert.is(scopeOf((p) => { p.region = "eu-west-1"; }), "SignatureDoesNotMatch", "the region is signed");

  const added = getObject();
  added.headers["x-amz-meta-owner"] = "mallory";
  assert.is(check(added), "AccessDenied", "an unsigned x-amz-* header");
  const noHash = getObject();
  delete noHash.headers["x-amz-content-sha256"];
  assert.is(parseAuth(noHash)!.payloadHash, "");
  assert.is(check(noHash), "InvalidArgument");
  const badHash = getObject();
  badHash.headers["x-amz-content-sha256"] = "STREAMING-SOMETHING";
  assert.is(check(badHash), "InvalidArgument");
});

h("signHeaders reproduces the AWS GET Object signature and what it signs verifies", () => {
  const headers = signHeaders({ method: "GET", url: `https://${HOST}/test.txt`, accessKeyId: AK, secret: SECRET, headers: { Range: "bytes=0-9" }, nowMs: T0 });
  assert.is(headers.authorization, getObject().headers.authorization?.toString().replace(/,/g, ", "));
  const now = Date.UTC(2025, 0, 2, 3, 4, 5);
  const url = "http://localhost:9000/my%20bucket/dir/ключ+1.txt?uploads&prefix=a%2Fb";
  const h2 = signHeaders({ method: "POST", url, accessKeyId: "AK2", secret: "sec", region: "local", headers: { "X-Amz-Meta-A": "  x   y " }, nowMs: now });
  assert.is(check(fromUrl(url, "POST", h2), "sec", now), "ok");
  assert.is(check(fromUrl(url.replace("a%2Fb", "a%2Fc"), "POST", h2), "sec", now), "SignatureDoesNotMatch");
});

// ---- presigned ----

const q = suite("s3 sigv4 presigned");

q("presign reproduces the AWS presigned URL example", () => {
  assert.is(presign({ method: "GET", url: `https://${HOST}/test.txt`, accessKeyId: AK, secret: SECRET, expiresSec: 86400, nowMs: T0 }), PRESIGNED);
});

q("the AWS presigned example verifies until it expires, and not before its date", () => {
  const req = fromUrl(PRESIGNED);
  const p = parseAuth(req)!;
  assert.equal({ kind: p.kind, expiresSec: p.expiresSec, payloadHash: p.payloadHash, signedHeaders: p.signedHeaders }, { kind: "query", expiresSec: 86400, payloadHash: "UNSIGNED-PAYLOAD", signedHeaders: ["host"] });
  assert.is(check(req, SECRET, T0 + 3_600_000), "ok");
  assert.is(check(req, SECRET, T0 + 86_400_000), "ok", "the last valid second");
  let err: SigV4Error | undefined;
  try { verify(req, p, SECRET, T0 + 86_401_000); } catch (e) { err = e as SigV4Error; }
  assert.is(err?.code, "AccessDenied");
  assert.is(err?.message, "Request has expired");
  assert.is(check(req, SECRET, T0 - 10 * 60_000), "ok", "a little clock skew");
  assert.is(check(req, SECRET, T0 - 16 * 60_000), "AccessDenied", "not valid yet");
});

q("a changed presigned URL does not verify; bad parameters are AuthorizationQueryParametersError", () => {
  assert.is(check(fromUrl(PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401")), SECRET, T0), "SignatureDoesNotMatch");
  assert.is(check(fromUrl(PRESIGNED.replace("/test.txt", "/test2.txt")), SECRET, T0), "SignatureDoesNotMatch");
  assert.is(check(fromUrl(PRESIGNED + "&response-content-type=text/html"), SECRET, T0), "SignatureDoesNotMatch");
  assert.is(check(fromUrl(PRESIGNED), "other", T0), "SignatureDoesNotMatch");
  assert.is(check(fromUrl(PRESIGNED, "PUT"), SECRET, T0), "SignatureDoesNotMatch");
  assert.is(check(fromUrl(PRESIGNED, "GET", { "x-amz-acl": "public-read" }), SECRET, T0), "AccessDenied", "an unsigned x-amz-* header");
  const bad = (from: string, to: string) => code(() => parseAuth(fromUrl(PRESIGNED.replace(from, to))));
  assert.is(bad("X-Amz-Expires=86400", "X-Amz-Expires=604801"), "AuthorizationQueryParametersError");
  assert.is(bad("X-Amz-Expires=86400", "X-Amz-Expires=0"), "AuthorizationQueryParametersError");
  assert.is(bad("X-Amz-Expires=86400", "X-Amz-Expires=1e3"), "AuthorizationQueryParametersError");
  assert.is(bad("X-Amz-Expires=86400&", ""), "AuthorizationQueryParametersError");
  assert.is(bad("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), "AuthorizationQueryParametersError");
  assert.is(bad("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24"), "AuthorizationQueryParametersError");
  assert.is(bad("%2Fs3%2F", "%2F"), "AuthorizationQueryParametersError");
});

q("presign keeps the URL's own query and encodes the key; the result verifies", () => {
  const now = Date.UTC(2025, 5, 1);
  const url = presign({ method: "PUT", url: "http://127.0.0.1:8080/b/a%20b/c~d$e?partNumber=2&uploadId=x%2By", accessKeyId: "AK", secret: "S", region: "mogile", expiresSec: 60, nowMs: now });
  assert.ok(url.startsWith("http://127.0.0.1:8080/b/a%20b/c~d$e?partNumber=2&uploadId=x%2By&X-Amz-Algorithm="));
  assert.is(check(fromUrl(url, "PUT"), "S", now + 60_000), "ok");
  assert.is(check(fromUrl(url, "PUT"), "S", now + 61_000), "AccessDenied");
  assert.is(check(fromUrl(url.replace("partNumber=2", "partNumber=3"), "PUT"), "S", now), "SignatureDoesNotMatch");
  assert.throws(() => presign({ method: "GET", url: "http://h/b/k", accessKeyId: "AK", secret: "S", expiresSec: 604_801 }));
});

// ---- aws-chunked ----

const c = suite("s3 sigv4 aws-chunked");

/** run pieces through t; resolves with the output, rejects with t's error */
async function through(t: Transform, pieces: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), t, async (src: AsyncIterable<Buffer>) => { for await (const b of src) out.push(b); });
  return Buffer.concat(out);
}
async function acode(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (err) { return (err as SigV4Error).code ?? String(err); }
  return "ok";
}
const bytewise = (b: Buffer) => Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
function splits(b: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length;) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (seed % 9000);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

const KEY = signingKey("chunk-secret", "20250102", "us-east-1", "s3");
const SCOPE = "20250102/us-east-1/s3/aws4_request";
const DATE = "20250102T030405Z";
const SEED = "a".repeat(64);
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const sign = (s: string) => createHmac("sha256", KEY).update(s).digest("hex");

/** an aws-chunked body: chunks signed when `signed`, then trailers (signed too when signed) */
function encode(chunks: Buffer[], o: { signed: boolean; trailers?: [string, string][] }): Buffer {
  let prev = SEED;
  const parts: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    let head = data.length.toString(16);
    if (o.signed) {
      prev = sign(`AWS4-HMAC-SHA256-PAYLOAD\n${DATE}\n${SCOPE}\n${prev}\n${EMPTY_SHA256}\n${sha(data)}`);
      head += `;chunk-signature=${prev}`;
    }
    parts.push(Buffer.from(`${head}\r\n`), data);
    if (data.length || !o.trailers) parts.push(Buffer.from("\r\n"));
  }
  if (o.trailers) {
    const canonical = o.trailers.map(([k, v]) => `${k}:${v}\n`).join("");
    parts.push(Buffer.from(canonical.replace(/\n/g, "\r\n")));
    if (o.signed) parts.push(Buffer.from(`x-amz-trailer-signature:${sign(`AWS4-HMAC-SHA256-TRAILER\n${DATE}\n${SCOPE}\n${prev}\n${sha(canonical)}`)}\r\n`));
    parts.push(Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}
const signedOpts = { signingKey: KEY, seedSignature: SEED, amzDate: DATE, scope: SCOPE };

c("the AWS chunked upload example: seed signature verifies, three chunk signatures verify", async () => {
  const req: SigRequest = {
    method: "PUT", rawPath: "/examplebucket/chunkObject.txt", rawQuery: "",
    headers: {
      host: "s3.amazonaws.com", "x-amz-date": AMZ_DATE, "x-amz-storage-class": "REDUCED_REDUNDANCY",
      authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
      "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked",
      "x-amz-decoded-content-length": "66560", "content-length": "66824",
    },
  };
  const p = parseAuth(req)!;
  const v = verify(req, p, SECRET, T0);
  assert.is(v.seedSignature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  const body = Buffer.concat([
    Buffer.from("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"), Buffer.alloc(65536, "a"),
    Buffer.from("\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"), Buffer.alloc(1024, "a"),
    Buffer.from("\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"),
  ]);
  assert.is(body.length, 66824, "the documented Content-Length");
  const opts = { mode: p.payloadHash, ...v, amzDate: p.amzDate, decodedLength: 66560 };
  for (const pieces of [[body], splits(body, 1), splits(body, 2)]) {
    const out = await through(chunkedDecoder(opts), pieces);
    assert.ok(out.equals(Buffer.alloc(66560, "a")));
  }
  // the chain is bound to the seed: another request's signature breaks the first chunk
  assert.is(await acode(through(chunkedDecoder({ ...opts, seedSignature: "0".repeat(64) }), [body])), "SignatureDoesNotMatch");
  const last = Buffer.from(body);
  last[last.length - 5] ^= 1; // inside the final chunk's signature
  assert.is(await acode(through(chunkedDecoder(opts), [last])), "SignatureDoesNotMatch");
});

c("signed chunks round trip byte by byte; a flipped byte or a missing signature fails", async () => {
  // letters only, so the framing can be located in the body by searching for CRLF
  const data = [Buffer.from("abcdefghij"), Buffer.from("klmnopqrstuvwxyzA"), Buffer.from("BCD")];
  const body = encode(data, { signed: true });
  const opts = { mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ...signedOpts, decodedLength: 30 };
  const out = await through(chunkedDecoder(opts), bytewise(body));
  assert.ok(out.equals(Buffer.concat(data)));

  const flipped = Buffer.from(body);
  flipped[body.indexOf("\r\n") + 2 + 4] ^= 0x40; // a data byte of the first chunk
  assert.is(await acode(through(chunkedDecoder(opts), bytewise(flipped))), "SignatureDoesNotMatch");
  // two chunks swapped: each carries its own valid signature, but the chain breaks
  const a = body.subarray(0, body.indexOf("\r\n", body.indexOf("\r\n") + 2) + 2); // first chunk, framed
  const rest = body.subarray(a.length);
  const second = rest.subarray(0, rest.indexOf("\r\n", rest.indexOf("\r\n") + 2) + 2);
  assert.is(await acode(through(chunkedDecoder(opts), [second, a, rest.subarray(second.length)])), "SignatureDoesNotMatch");
  const unsignedBody = encode(data, { signed: false });
  assert.is(await acode(through(chunkedDecoder(opts), [unsignedBody])), "SignatureDoesNotMatch");
});

c("framing: an early end is IncompleteBody, broken framing InvalidRequest, a wrong length IncompleteBody", async () => {
  const data = [Buffer.from("hello "), Buffer.from("world")];
  const body = encode(data, { signed: true });
  const opts = { mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ...signedOpts };
  for (const cut of [1, 2, 10, body.length - 30]) {
    assert.is(await acode(through(chunkedDecoder(opts), [body.subarray(0, body.length - cut)])), "IncompleteBody", `cut ${cut}`);
  }
  assert.is(await acode(through(chunkedDecoder(opts), [body, Buffer.from("x")])), "InvalidRequest", "bytes after the end");
  const noCrlf = Buffer.from(body.toString("latin1").replace("hello \r\n", "hello XX"), "latin1");
  assert.is(await acode(through(chunkedDecoder(opts), [noCrlf])), "InvalidRequest");
  const badSize = Buffer.from(body.toString("latin1").replace(/^6;/, "z;"), "latin1");
  assert.is(await acode(through(chunkedDecoder(opts), [badSize])), "InvalidRequest");
  const bareLf = Buffer.from(body.toString("latin1").replace(/^(6;chunk-signature=[0-9a-f]{64})\r\n/, "$1\n"), "latin1");
  assert.is(await acode(through(chunkedDecoder(opts), [bareLf])), "InvalidRequest");
  assert.is(await acode(through(chunkedDecoder({ ...opts, decodedLength: 11 }), [body])), "ok");
  assert.is(await acode(through(chunkedDecoder({ ...opts, decodedLength: 12 }), [body])), "IncompleteBody", "shorter than declared");
  assert.is(await acode(through(chunkedDecoder({ ...opts, decodedLength: 10 }), [body])), "IncompleteBody", "longer than declared");
  assert.throws(() => chunkedDecoder({ mode: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" }), (e: SigV4Error) => e.code === "InvalidArgument");
  assert.throws(() => chunkedDecoder({ mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" }), /signingKey/);
});

c("unsigned payload with a crc32 trailer: the right checksum passes byte by byte, a wrong one is BadDigest", async () => {
  const data = [Buffer.from("1234"), Buffer.from("56789")];
  const mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
  // CRC-32 check value of "123456789" is 0xCBF43926
  const good = encode(data, { signed: false, trailers: [["x-amz-checksum-crc32", Buffer.from("cbf43926", "hex").toString("base64")]] });
  assert.ok(good.toString().endsWith("0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n"));
  const d = chunkedDecoder({ mode, decodedLength: 9, trailer: "x-amz-checksum-crc32" });
  const out = await through(d, bytewise(good));
  assert.is(out.toString(), "123456789");
  assert.equal(d.trailers, { "x-amz-checksum-crc32": "y/Q5Jg==" });
  // without x-amz-trailer the checksum is still found and checked
  assert.is(await acode(through(chunkedDecoder({ mode }), [good])), "ok");

  const bad = encode(data, { signed: false, trailers: [["x-amz-checksum-crc32", "AAAAAA=="]] });
  assert.is(await acode(through(chunkedDecoder({ mode, trailer: "x-amz-checksum-crc32" }), bytewise(bad))), "BadDigest");
  assert.is(await acode(through(chunkedDecoder({ mode }), [bad])), "BadDigest");

  const sha256 = createHash("sha256").update("123456789").digest("base64");
  assert.is(await acode(through(chunkedDecoder({ mode }), [encode(data, { signed: false, trailers: [["x-amz-checksum-sha256", sha256]] })])), "ok");
  assert.is(await acode(through(chunkedDecoder({ mode }), [encode(data, { signed: false, trailers: [["x-amz-checksum-sha256", sha256.replace(/^./, "A")]] })])), "BadDigest");
  const sha1 = createHash("sha1").update("12345678").digest("base64");
  assert.is(await acode(through(chunkedDecoder({ mode, trailer: "x-amz-checksum-sha1" }), [encode(data, { signed: false, trailers: [["x-amz-checksum-sha1", sha1]] })])), "BadDigest");
  // crc32c is accepted unchecked (documented)
  assert.is(await acode(through(chunkedDecoder({ mode, trailer: "x-amz-checksum-crc32c" }), [encode(data, { signed: false, trailers: [["x-amz-checksum-crc32c", "AAAAAA=="]] })])), "ok");
  // a declared trailer that does not come
  assert.is(await acode(through(chunkedDecoder({ mode, trailer: "x-amz-checksum-crc32" }), [encode(data, { signed: false, trailers: [] })])), "InvalidRequest");
  // the final empty line may be missing at the very end
  assert.is(await acode(through(chunkedDecoder({ mode }), [good.subarray(0, good.length - 2)])), "ok");
  // trailers are not allowed without a *-TRAILER mode
  assert.is(await acode(through(chunkedDecoder({ mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ...signedOpts }), [encode(data, { signed: true, trailers: [["x-amz-checksum-crc32", "y/Q5Jg=="]] })])), "InvalidRequest");
});

c("signed chunks with a signed trailer: verified; a changed trailer or trailer signature fails", async () => {
  const data = [randomBytes(5000), randomBytes(1)];
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Of(Buffer.concat(data)));
  const trailers: [string, string][] = [["x-amz-checksum-crc32", crc.toString("base64")]];
  const body = encode(data, { signed: true, trailers });
  const opts = { mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", ...signedOpts, decodedLength: 5001, trailer: "x-amz-checksum-crc32" };
  const d = chunkedDecoder(opts);
  assert.ok((await through(d, splits(body, 7))).equals(Buffer.concat(data)));
  assert.is(d.decodedBytes, 5001);

  const text = body.toString("latin1");
  const sigAt = text.indexOf("x-amz-trailer-signature:") + 30;
  const badSig = Buffer.from(body);
  badSig[sigAt] = badSig[sigAt] === 0x30 ? 0x31 : 0x30;
  assert.is(await acode(through(chunkedDecoder(opts), [badSig])), "SignatureDoesNotMatch");
  const noSig = Buffer.from(text.replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, ""), "latin1");
  assert.is(await acode(through(chunkedDecoder(opts), [noSig])), "SignatureDoesNotMatch");
  // a changed trailer value breaks the trailer signature (checked before the checksum)
  const other = encode(data, { signed: true, trailers: [["x-amz-checksum-crc32", "AAAAAA=="]] });
  const swapped = Buffer.from(text.replace(/x-amz-checksum-crc32:[^\r]*/, other.toString("latin1").match(/x-amz-checksum-crc32:[^\r]*/)![0]), "latin1");
  assert.is(await acode(through(chunkedDecoder(opts), [swapped])), "SignatureDoesNotMatch");
});

/** CRC-32 (IEEE) written out, to check the trailer against something other than zlib */
function crc32Of(b: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- whole-body digests ----

const g = suite("s3 sigv4 digests");

g("CheckedBody: right sha256 and md5 pass and give the md5; wrong ones fail with S3's codes", async () => {
  const HELLO_MD5 = "5d41402abc4b2a76b9719d911017c592";
  const HELLO_SHA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
  const md5b64 = Buffer.from(HELLO_MD5, "hex").toString("base64");
  const d = new CheckedBody({ sha256Hex: HELLO_SHA, md5Base64: md5b64 });
  const out = await through(d, bytewise(Buffer.from("hello")));
  assert.is(out.toString(), "hello");
  assert.is(d.md5Hex, HELLO_MD5);

  const empty = new CheckedBody({});
  await through(empty, []);
  assert.is(empty.md5Hex, "d41d8cd98f00b204e9800998ecf8427e");

  assert.is(await acode(through(new CheckedBody({ sha256Hex: EMPTY_SHA256 }), [Buffer.from("hello")])), "XAmzContentSHA256Mismatch");
  assert.is(await acode(through(new CheckedBody({ md5Base64: md5b64 }), [Buffer.from("hellO")])), "BadDigest");
  assert.is(await acode(through(new CheckedBody({ sha256Hex: PUT_SHA }), [Buffer.from("Welcome to Amazon S3.")])), "ok");
  // the last bytes are held back until the digests pass: a failing body never gets through whole
  const held: Buffer[] = [];
  const failing = new CheckedBody({ md5Base64: md5b64 });
  failing.on("data", (c: Buffer) => held.push(c));
  assert.is(await acode(through(failing, bytewise(Buffer.from("hellO")))), "BadDigest");
  assert.ok(Buffer.concat(held).length < 5, "the whole body never came out");
});

h.run();
q.run();
c.run();
g.run();
