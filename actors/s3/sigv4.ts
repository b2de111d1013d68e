// AWS Signature Version 4 for the S3 API, server side: parse a request's auth (Authorization header
// or presigned query) and verify it against the key's secret; aws_chunked.ts decodes chunked bodies.
//
// S3 flavour of SigV4: the path is normalised by decoding and re-encoding each segment once (no
// double encoding, no dot-segment removal), the payload hash line is x-amz-content-sha256 (header
// auth) or UNSIGNED-PAYLOAD (presigned).
//
// Limits, on purpose:
// - the region in the credential scope is not checked here (any region is accepted; a caller that
//   wants one region compares `Parsed.region` itself); session tokens (x-amz-security-token) are not
//   interpreted, they are signed like any other header or parameter;
// - header values come from node's IncomingMessage.headers, where node has already joined repeated
//   headers with ", " (AWS joins with ","), so a request repeating a signed header does not verify.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface SigRequest {
  method: string;
  /** the request path exactly as received, percent-encoded, without the query string */
  rawPath: string;
  /** the query string as received, without "?"; may be "" */
  rawQuery: string;
  /** node's IncomingMessage.headers (lowercase names) */
  headers: Record<string, string | string[] | undefined>;
}

export type SigError = {
  code:
    | "AccessDenied" | "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "AuthorizationHeaderMalformed"
    | "AuthorizationQueryParametersError" | "RequestTimeTooSkewed" | "ExpiredToken" /* unused */
    | "AccessDeniedExpired" /* unused: expiry is AccessDenied "Request has expired", as S3 answers */
    | "InvalidArgument" | "XAmzContentSHA256Mismatch" | "MissingSecurityHeader";
  message: string;
};

export interface Parsed {
  kind: "header" | "query";
  accessKeyId: string;
  /** YYYYMMDD from the credential scope */
  date: string;
  region: string;
  service: string;
  /** YYYYMMDDTHHMMSSZ */
  amzDate: string;
  signedHeaders: string[];
  /** lowercase hex */
  signature: string;
  /** header auth: the x-amz-content-sha256 value ("" if absent; verify() refuses that); presigned: UNSIGNED-PAYLOAD or X-Amz-Content-Sha256 */
  payloadHash: string;
  /** presigned only: X-Amz-Expires, 1..604800 */
  expiresSec?: number;
}

/** An auth or body failure, `code` being the S3 error code to answer with (also BadDigest, IncompleteBody, InvalidRequest, InvalidDigest). */
export class SigV4Error extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "SigV4Error";
  }
}

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
export const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
export const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
export const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const MAX_SKEW_MS = 15 * 60_000;
const MAX_EXPIRES_SEC = 604_800;
const AMZ_DATE = /^\d{8}T\d{6}Z$/;
export const HEX64 = /^[0-9a-fA-F]{64}$/;

export const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
export const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** constant-time comparison of two hex signatures (case-insensitive) */
export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), "latin1");
  const y = Buffer.from(b.toLowerCase(), "latin1");
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---- encoding ----

const HEX_DIGIT = /[0-9a-fA-F]/;

/** Percent-decode to bytes (no "+" -> space); null on a malformed escape. */
function percentDecode(s: string): Buffer | null {
  if (!s.includes("%")) return Buffer.from(s, "utf8");
  const out: Buffer[] = [];
  let start = 0;
  for (let i = s.indexOf("%"); i !== -1; i = s.indexOf("%", i)) {
    if (!HEX_DIGIT.test(s.charAt(i + 1)) || !HEX_DIGIT.test(s.charAt(i + 2))) return null;
    out.push(Buffer.from(s.slice(start, i), "utf8"), Buffer.from([parseInt(s.slice(i + 1, i + 3), 16)]));
    i += 3;
    start = i;
  }
  out.push(Buffer.from(s.slice(start), "utf8"));
  return Buffer.concat(out);
}

/** RFC 3986 encoding of bytes: everything but A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase). */
function encodeBytes(b: Buffer): string {
  let out = "";
  for (const c of b) {
    const unreserved = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
      c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
    out += unreserved ? String.fromCharCode(c) : `%${c < 16 ? "0" : ""}${c.toString(16).toUpperCase()}`;
  }
  return out;
}

/** RFC 3986 encoding of a string's UTF-8 bytes */
export const uriEncode = (s: string) => encodeBytes(Buffer.from(s, "utf8"));

function reencode(s: string, what: string): string {
  const b = percentDecode(s);
  // a client cannot have signed what we cannot decode the way it did
  if (!b) throw new SigV4Error("SignatureDoesNotMatch", `malformed percent-encoding in the ${what}`);
  return encodeBytes(b);
}

/** the query's parameters, split but still encoded; empty pieces ("a&&b") dropped */
function splitQuery(rawQuery: string): [string, string][] {
  const out: [string, string][] = [];
  for (const piece of rawQuery.split("&")) {
    if (!piece) continue;
    const eq = piece.indexOf("=");
    out.push(eq === -1 ? [piece, ""] : [piece.slice(0, eq), piece.slice(eq + 1)]);
  }
  return out;
}

/** decoded query parameters (first occurrence wins); undecodable ones are left out */
function queryParams(rawQuery: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of splitQuery(rawQuery)) {
    const name = percentDecode(k);
    const value = percentDecode(v);
    if (name && value && !m.has(name.toString("utf8"))) m.set(name.toString("utf8"), value.toString("utf8"));
  }
  return m;
}

function headerValue(headers: SigRequest["headers"], name: string): string | undefined {
  const v = headers[name];
  // repeated values are trimmed one by one, then joined as AWS does
  return Array.isArray(v) ? v.map((x) => x.trim()).join(",") : v;
}

// ---- canonical request ----

/** The canonical request string. Throws SignatureDoesNotMatch for a signed header that is absent or an undecodable path/query. */
export function canonicalRequest(req: SigRequest, signedHeaders: string[], payloadHash: string, presigned: boolean): string {
  const uri = req.rawPath === "" ? "/" : req.rawPath.split("/").map((seg) => reencode(seg, "path")).join("/");
  const query = splitQuery(req.rawQuery)
    .map(([k, v]) => [reencode(k, "query string"), reencode(v, "query string")] as const)
    .filter(([k]) => !(presigned && k === "X-Amz-Signature"))
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  let headers = "";
  for (const name of signedHeaders) {
    const v = headerValue(req.headers, name);
    if (v === undefined) throw new SigV4Error("SignatureDoesNotMatch", `the signed header ${name} is not in the request`);
    headers += `${name}:${v.trim().replace(/\s+/g, " ")}\n`;
  }
  return [req.method.toUpperCase(), uri, query, headers, signedHeaders.join(";"), payloadHash].join("\n");
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

export const scopeOf = (p: Pick<Parsed, "date" | "region" | "service">) => `${p.date}/${p.region}/${p.service}/aws4_request`;

const stringToSign = (amzDate: string, scope: string, canonical: string) =>
  `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;

// ---- parsing ----

/** "20130524T000000Z" -> ms, or NaN when not a real date */
function amzDateMs(d: string): number {
  if (!AMZ_DATE.test(d)) return NaN;
  const n = (a: number, b: number) => Number(d.slice(a, b));
  const ms = Date.UTC(n(0, 4), n(4, 6) - 1, n(6, 8), n(9, 11), n(11, 13), n(13, 15));
  // Date.UTC rolls over (month 13, second 61...): a real date formats back to itself
  return toAmzDate(ms) === d ? ms : NaN;
}

function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "");
}

function parseCredential(value: string, fail: (m: string) => SigV4Error) {
  const parts = value.split("/");
  if (parts.length !== 5 || parts.slice(0, 4).some((p) => !p) || parts[4] !== "aws4_request" || !/^\d{8}$/.test(parts[1])) {
    throw fail(`the Credential "${value}" is not <access key>/<YYYYMMDD>/<region>/<service>/aws4_request`);
  }
  const [accessKeyId, date, region, service] = parts;
  return { accessKeyId, date, region, service };
}

function parseSignedHeaders(value: string, fail: (m: string) => SigV4Error): string[] {
  const names = value.split(";").map((h) => h.toLowerCase());
  if (names.some((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) throw fail(`the SignedHeaders "${value}" are malformed`);
  return names;
}

function parseSignature(value: string, fail: (m: string) => SigV4Error): string {
  if (!HEX64.test(value)) throw fail("the Signature must be 64 hex digits");
  return value.toLowerCase();
}

/**
 * The request's AWS auth: Authorization header or presigned query, null when it carries none
 * (anonymous). Throws SigV4Error for malformed auth, for SigV2 (not supported) and for both at once.
 */
export function parseAuth(req: SigRequest): Parsed | null {
  const authorization = headerValue(req.headers, "authorization");
  const q = queryParams(req.rawQuery);
  const presigned = q.has("X-Amz-Algorithm") || q.has("X-Amz-Credential") || q.has("X-Amz-Signature");
  if (authorization !== undefined && presigned) throw new SigV4Error("InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified");
  if (authorization !== undefined) return parseHeaderAuth(req, authorization);
  if (presigned) return parseQueryAuth(q);
  if (q.has("AWSAccessKeyId") && q.has("Signature")) throw new SigV4Error("InvalidArgument", "Signature Version 2 is not supported; use AWS4-HMAC-SHA256");
  return null;
}

function parseHeaderAuth(req: SigRequest, authorization: string): Parsed {
  const fail = (m: string) => new SigV4Error("AuthorizationHeaderMalformed", `The authorization header is malformed; ${m}`);
  if (/^AWS [^ ]/.test(authorization)) throw new SigV4Error("InvalidArgument", "Signature Version 2 is not supported; use AWS4-HMAC-SHA256");
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(authorization);
  if (!m) throw fail(`the algorithm must be ${ALGORITHM}`);
  const fields = new Map<string, string>();
  for (const part of m[1].split(",")) {
    const eq = part.indexOf("=");
    const key = part.slice(0, Math.max(eq, 0)).trim();
    if (eq === -1 || fields.has(key)) throw fail(`"${part.trim()}" is not a single key=value pair`);
    fields.set(key, part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw fail("it needs Credential, SignedHeaders and Signature");
  }

  let amzDate = headerValue(req.headers, "x-amz-date");
  if (amzDate === undefined) {
    const date = headerValue(req.headers, "date");
    const ms = date === undefined ? NaN : Date.parse(date);
    if (Number.isFinite(ms)) amzDate = toAmzDate(ms);
  }
  if (amzDate === undefined || Number.isNaN(amzDateMs(amzDate.trim()))) {
    throw new SigV4Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
  }
  return {
    kind: "header",
    ...parseCredential(credential, fail),
    amzDate: amzDate.trim(),
    signedHeaders: parseSignedHeaders(signedHeaders, fail),
    signature: parseSignature(signature, fail),
    payloadHash: (headerValue(req.headers, "x-amz-content-sha256") ?? "").trim(),
  };
}

function parseQueryAuth(q: Map<string, string>): Parsed {
  const fail = (m: string) => new SigV4Error("AuthorizationQueryParametersError", m);
  const get = (name: string) => {
    const v = q.get(name);
    if (v === undefined) {
      throw fail("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
    }
    return v;
  };
  if (get("X-Amz-Algorithm") !== ALGORITHM) throw fail(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const credential = parseCredential(get("X-Amz-Credential"), fail);
  const amzDate = get("X-Amz-Date");
  if (Number.isNaN(amzDateMs(amzDate))) throw fail("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  const expires = get("X-Amz-Expires");
  if (!/^\d{1,7}$/.test(expires)) throw fail("X-Amz-Expires should be a number");
  const expiresSec = Number(expires);
  if (expiresSec < 1) throw fail("X-Amz-Expires must be non-negative and non-zero");
  if (expiresSec > MAX_EXPIRES_SEC) throw fail(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_EXPIRES_SEC}`);
  return {
    kind: "query",
    ...credential,
    amzDate,
    signedHeaders: parseSignedHeaders(get("X-Amz-SignedHeaders"), fail),
    signature: parseSignature(get("X-Amz-Signature"), fail),
    payloadHash: q.get("X-Amz-Content-Sha256") ?? UNSIGNED_PAYLOAD,
    expiresSec,
  };
}

// ---- verification ----

const PAYLOAD_MODES = new Set([UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]);

/**
 * Verify `p` (from parseAuth(req)) with the access key's secret. Checks, in order: the scope
 * (service s3, date = X-Amz-Date's day), host signed, every x-amz-* header of the request signed,
 * the payload hash (header auth), the time (header: within 15 min of now; presigned: not more than
 * 15 min in the future, not expired), then the signature (constant time).
 * Returns what aws-chunked bodies need: the signing key, the request's signature (seed) and scope.
 */
export function verify(req: SigRequest, p: Parsed, secret: string, nowMs = Date.now()): { signingKey: Buffer; seedSignature: string; scope: string } {
  const malformed = p.kind === "header" ? "AuthorizationHeaderMalformed" : "AuthorizationQueryParametersError";
  if (p.service !== "s3") throw new SigV4Error(malformed, `incorrect service "${p.service}"; this endpoint belongs to "s3"`);
  if (p.date !== p.amzDate.slice(0, 8)) throw new SigV4Error(malformed, `invalid credential date "${p.date}": it is not the date of X-Amz-Date ${p.amzDate}`);
  if (!p.signedHeaders.includes("host")) throw new SigV4Error(malformed, "the host header must be signed");
  // as S3: an unsigned x-amz-* header (x-amz-acl, x-amz-meta-*...) could have been added by anyone
  const unsigned = Object.keys(req.headers).filter((h) => h.startsWith("x-amz-") && !p.signedHeaders.includes(h));
  if (unsigned.length) throw new SigV4Error("AccessDenied", `There were headers present in the request which were not signed: ${unsigned.join(", ")}`);

  if (p.kind === "header") {
    if (!p.payloadHash) throw new SigV4Error("InvalidArgument", "the x-amz-content-sha256 header is required for AWS Signature Version 4 requests");
    if (!HEX64.test(p.payloadHash) && !PAYLOAD_MODES.has(p.payloadHash)) {
      throw new SigV4Error("InvalidArgument", `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* mode or a hex SHA-256, not "${p.payloadHash}"`);
    }
  }

  const at = amzDateMs(p.amzDate);
  if (Number.isNaN(at)) throw new SigV4Error("AccessDenied", `invalid date ${p.amzDate}`);
  if (p.kind === "header") {
    if (Math.abs(nowMs - at) > MAX_SKEW_MS) throw new SigV4Error("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
  } else {
    if (at - nowMs > MAX_SKEW_MS) throw new SigV4Error("AccessDenied", "Request is not valid yet");
    if (nowMs > at + (p.expiresSec ?? 0) * 1000) throw new SigV4Error("AccessDenied", "Request has expired");
  }

  const scope = scopeOf(p);
  const key = signingKey(secret, p.date, p.region, p.service);
  const canonical = canonicalRequest(req, p.signedHeaders, p.payloadHash, p.kind === "query");
  const expected = hmac(key, stringToSign(p.amzDate, scope, canonical)).toString("hex");
  if (!sameHex(expected, p.signature)) {
    throw new SigV4Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
  }
  return { signingKey: key, seedSignature: expected, scope };
}

// ---- client side (tests, tools) ----

/** A presigned URL (X-Amz-* query, host signed, UNSIGNED-PAYLOAD) for `o.url`, whose own query is kept. */
export function presign(o: { method: string; url: string; accessKeyId: string; secret: string; region?: string; expiresSec: number; nowMs?: number }): string {
  if (!Number.isInteger(o.expiresSec) || o.expiresSec < 1 || o.expiresSec > MAX_EXPIRES_SEC) throw new RangeError(`expiresSec must be 1..${MAX_EXPIRES_SEC}`);
  const url = new URL(o.url);
  const amzDate = toAmzDate(o.nowMs ?? Date.now());
  const scope = scopeOf({ date: amzDate.slice(0, 8), region: o.region ?? "us-east-1", service: "s3" });
  const auth = [
    ["X-Amz-Algorithm", ALGORITHM],
    ["X-Amz-Credential", `${o.accessKeyId}/${scope}`],
    ["X-Amz-Date", amzDate],
    ["X-Amz-Expires", String(o.expiresSec)],
    ["X-Amz-SignedHeaders", "host"],
  ].map(([k, v]) => `${k}=${uriEncode(v)}`).join("&");
  const rawQuery = url.search.length > 1 ? `${url.search.slice(1)}&${auth}` : auth;
  const req: SigRequest = { method: o.method, rawPath: url.pathname, rawQuery, headers: { host: url.host } };
  const key = signingKey(o.secret, amzDate.slice(0, 8), o.region ?? "us-east-1", "s3");
  const signature = hmac(key, stringToSign(amzDate, scope, canonicalRequest(req, ["host"], UNSIGNED_PAYLOAD, true))).toString("hex");
  return `${url.origin}${url.pathname}?${rawQuery}&X-Amz-Signature=${signature}`;
}

/**
 * Header auth for a request to `o.url`: returns the headers to send (the given ones, host,
 * x-amz-date, x-amz-content-sha256 and authorization), all of them signed.
 * `payloadHash` defaults to the empty body's sha256.
 */
export function signHeaders(o: {
  method: string; url: string; accessKeyId: string; secret: string; region?: string;
  headers?: Record<string, string>; payloadHash?: string; nowMs?: number;
}): Record<string, string> {
  const url = new URL(o.url);
  const amzDate = toAmzDate(o.nowMs ?? Date.now());
  const region = o.region ?? "us-east-1";
  const scope = scopeOf({ date: amzDate.slice(0, 8), region, service: "s3" });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = v;
  headers.host = url.host;
  headers["x-amz-date"] = amzDate;
  headers["x-amz-content-sha256"] = o.payloadHash ?? EMPTY_SHA256;
  const signed = Object.keys(headers).sort();
  const req: SigRequest = { method: o.method, rawPath: url.pathname, rawQuery: url.search.slice(1), headers };
  const key = signingKey(o.secret, amzDate.slice(0, 8), region, "s3");
  const signature = hmac(key, stringToSign(amzDate, scope, canonicalRequest(req, signed, headers["x-amz-content-sha256"], false))).toString("hex");
  headers.authorization = `${ALGORITHM} Credential=${o.accessKeyId}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`;
  return headers;
}
