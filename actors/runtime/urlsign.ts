// Signed storage URLs: an HMAC-SHA256 (cluster key) over what a storage URL may do, carried in its
// query string so classic clients that PUT or GET the URL as given keep working.
//
//   http://host:port/dev7/0/000/000/0000000123.fid?e=<expiry>&l=<max length>&p=1&s=<signature>
//
// e   expiry, unix seconds (always)
// l   the most bytes a PUT may store (PUT only)
// p   1 = store the file protected: its reads then need a signed URL (PUT only)
// s   base64url HMAC-SHA256 over "v1\n<method>\n<devid>\n<fid>\n<e>\n<l>\n<p>" (absent fields empty)
//
// The method is not in the URL: the storage node verifies with the request's own (HEAD counts as
// GET), so a URL signed for GET can never DELETE or PUT. The host is not signed: the devid is, and a
// storage node serves only its own devices.
import { createHmac, timingSafeEqual } from "node:crypto";
import { clusterKey } from "./secrets.ts";

export type SignedMethod = "GET" | "PUT" | "DELETE";

export interface SignedGrant {
  method: SignedMethod;
  devid: number;
  fid: number;
  /** unix seconds */
  expires: number;
  /** PUT: the most bytes the body may have */
  maxLength?: number;
  /** PUT: mark the stored file protected (reads need a signed URL) */
  protect?: boolean;
  /**
   * PUT: the devices the receiving agent passes the body on to, in order (chain replication):
   * `devid@origin` items (see chain.ts), so each copy is written before the PUT is answered
   */
  chain?: string;
}

/** short expiry for the cluster's own requests (deletes, pulls, checks): minutes, for clock skew */
export const CLUSTER_URL_TTL_SEC = 300;

const nowSec = () => Math.floor(Date.now() / 1000);

function mac(key: Buffer, method: string, devid: number, fid: number, e: string, l: string, p: string, c: string): Buffer {
  // the chain is covered only when there is one, so URLs signed before it existed stay valid
  return createHmac("sha256", key).update(`v1\n${method}\n${devid}\n${fid}\n${e}\n${l}\n${p}${c ? `\n${c}` : ""}`).digest();
}

/** The query string (without `?`) granting `g`. */
export function signQuery(key: Buffer, g: SignedGrant): string {
  const e = String(Math.floor(g.expires));
  const l = g.maxLength === undefined ? "" : String(g.maxLength);
  const p = g.protect ? "1" : "";
  const c = g.chain ?? "";
  const s = mac(key, g.method, g.devid, g.fid, e, l, p, c).toString("base64url");
  return `e=${e}${l ? `&l=${l}` : ""}${p ? `&p=${p}` : ""}${c ? `&c=${encodeURIComponent(c)}` : ""}&s=${s}`;
}

/** `url` (a fid URL for g.devid/g.fid) with the grant appended to its query string. */
export function signUrl(key: Buffer, url: string, g: SignedGrant): string {
  return `${url}${url.includes("?") ? "&" : "?"}${signQuery(key, g)}`;
}

/** Sign with the cluster key for `ttlSec` from now (the cluster's own requests). */
export function clusterSignedUrl(url: string, method: SignedMethod, devid: number, fid: number, ttlSec = CLUSTER_URL_TTL_SEC): string {
  return signUrl(clusterKey(), url, { method, devid, fid, expires: nowSec() + ttlSec });
}

export type Verdict =
  | { ok: true; maxLength?: number; protect: boolean; chain?: string }
  | { ok: false; reason: string };

const DIGITS = /^[0-9]{1,20}$/;

/** Checks the grant a request's query carries for `method` on devid/fid (HEAD is checked as GET). */
export function verifyQuery(key: Buffer, method: string, devid: number, fid: number, q: URLSearchParams, now = nowSec()): Verdict {
  const s = q.get("s");
  if (s === null) return { ok: false, reason: "unsigned" };
  const e = q.get("e") ?? "";
  const l = q.get("l") ?? "";
  const p = q.get("p") ?? "";
  const c = q.get("c") ?? "";
  if (!DIGITS.test(e) || (l !== "" && !DIGITS.test(l)) || (p !== "" && p !== "1")) return { ok: false, reason: "malformed signature fields" };
  const got = Buffer.from(s, "base64url");
  const want = mac(key, method === "HEAD" ? "GET" : method, devid, fid, e, l, p, c);
  // compare first, then look at the expiry: a forged URL learns nothing from the answer
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: "signature does not match" };
  if (Number(e) < now) return { ok: false, reason: "signature expired" };
  return { ok: true, protect: p === "1", ...(l !== "" ? { maxLength: Number(l) } : {}), ...(c !== "" ? { chain: c } : {}) };
}
