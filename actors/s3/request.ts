// One S3 request as the handlers see it: path-style bucket and key, the query, the caller (after
// SigV4), and the answer helpers (XML bodies, S3 error documents).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Caller } from "./auth.ts";
import { errorXml } from "./xml.ts";
import type { S3Error } from "./errors.ts";

export interface S3Request {
  req: IncomingMessage;
  res: ServerResponse;
  id: string;
  method: string;
  rawPath: string;
  rawQuery: string;
  query: URLSearchParams;
  /** path-style: the first path segment, decoded */
  bucket?: string;
  /** the rest of the path after `/<bucket>/`, decoded */
  key?: string;
  caller: Caller;
  /** the signature's payload hash (x-amz-content-sha256), or undefined for anonymous requests */
  payloadHash?: string;
  /** for aws-chunked bodies with signed chunks */
  chunkSigning?: { signingKey: Buffer; seedSignature: string; amzDate: string; scope: string };
}

/** `/bucket/key/with/slashes` → bucket and key, each percent-decoded; null when malformed. */
export function splitPath(rawPath: string): { bucket?: string; key?: string } | null {
  const p = rawPath.startsWith("/") ? rawPath.slice(1) : rawPath;
  if (p === "") return {};
  const i = p.indexOf("/");
  try {
    if (i < 0) return { bucket: decodeURIComponent(p) };
    const key = p.slice(i + 1);
    return { bucket: decodeURIComponent(p.slice(0, i)), ...(key === "" ? {} : { key: decodeURIComponent(key) }) };
  } catch {
    return null;
  }
}

export function sendXml(r: S3Request, status: number, body: string, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(body);
  r.res.writeHead(status, { "content-type": "application/xml", "content-length": buf.length, "x-amz-request-id": r.id, ...headers });
  r.res.end(r.method === "HEAD" ? undefined : buf);
}

export function sendEmpty(r: S3Request, status: number, headers: Record<string, string | number> = {}): void {
  r.res.writeHead(status, { "content-length": 0, "x-amz-request-id": r.id, ...headers });
  r.res.end();
}

export function sendError(r: S3Request, e: S3Error): void {
  if (r.res.headersSent) { r.res.destroy(); return; }
  const resource = r.rawPath;
  const body = Buffer.from(errorXml(e.code, e.message, resource, r.id, e.extra));
  const headers: Record<string, string | number> = { "content-type": "application/xml", "x-amz-request-id": r.id };
  // a HEAD error has no body, only the status (as S3 answers)
  if (r.method !== "HEAD") headers["content-length"] = body.length;
  else headers["content-length"] = 0;
  // a request body we did not read would be taken for the next request
  if (!r.req.readableEnded) headers.connection = "close";
  r.res.writeHead(e.status, headers);
  r.res.end(r.method === "HEAD" ? undefined : body);
}

/** Read a small request body whole (XML documents), at most `max` bytes. */
export async function readBody(r: S3Request, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of r.req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw Object.assign(new Error("too large"), { tooLarge: true });
    parts.push(c);
  }
  return Buffer.concat(parts, n);
}
