// Small HTTP client over node:http with keep-alive, used by the SDK, trackers and storage agents.
import http, { type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import https from "node:https";
import tls from "node:tls";
import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";

const POOL = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64 };
export const agent = new http.Agent(POOL);
// https: the system's CAs plus MOGILE_TLS_CA (a cluster's own CA), read once per file
let tlsAgent: { ca: string | undefined; agent: https.Agent } | null = null;
function httpsAgent(): https.Agent {
  const ca = process.env.MOGILE_TLS_CA || undefined;
  if (tlsAgent?.ca !== ca || !tlsAgent) {
    tlsAgent?.agent.destroy();
    tlsAgent = { ca, agent: new https.Agent({ ...POOL, ...(ca ? { ca: [...tls.rootCertificates, readFileSync(ca, "utf8")] } : {}) }) };
  }
  return tlsAgent.agent;
}

export interface HttpOptions {
  method: "GET" | "PUT" | "HEAD" | "DELETE";
  headers?: OutgoingHttpHeaders;
  /** a Buffer is sent with Content-Length; a stream is piped (chunked unless a length header is given) */
  body?: Buffer | Readable;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class HttpError extends Error {
  constructor(message: string, readonly status: number | null, readonly beforeBody: boolean) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * Sends one request; resolves with the response (its body unread) once the status line arrives.
 * `beforeBody` on failure says no byte of a streamed body was consumed, so the caller may fail over.
 */
export function httpRequest(url: string, o: HttpOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let bodyStarted = false;
    const headers: OutgoingHttpHeaders = { ...o.headers };
    if (Buffer.isBuffer(o.body)) headers["content-length"] = o.body.length;
    else if (!o.body && (o.method === "PUT")) headers["content-length"] = 0;
    const req = url.startsWith("https:")
      ? https.request(url, { method: o.method, headers, agent: httpsAgent(), signal: o.signal })
      : http.request(url, { method: o.method, headers, agent, signal: o.signal });
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new HttpError(`timeout after ${o.timeoutMs ?? 30_000} ms: ${o.method} ${url}`, null, !bodyStarted)));
    req.on("response", resolve);
    req.on("error", (err) => reject(err instanceof HttpError ? err : new HttpError(`${o.method} ${url}: ${err.message}`, null, !bodyStarted)));
    if (!o.body) { req.end(); return; }
    if (Buffer.isBuffer(o.body)) { bodyStarted = true; req.end(o.body); return; }
    const src = o.body;
    // a source that failed (or was destroyed) before we got here would never end: fail at once
    if (src.destroyed || src.errored) {
      req.destroy(new HttpError(`upload source failed: ${src.errored?.message ?? "it was destroyed"}`, null, false));
      return;
    }
    src.once("data", () => { bodyStarted = true; });
    src.on("error", (err) => req.destroy(new HttpError(`upload source failed: ${err.message}`, null, false)));
    src.pipe(req);
  });
}

/** Reads and discards a response body so the socket returns to the pool. */
export async function drain(res: IncomingMessage): Promise<void> {
  res.resume();
  await new Promise<void>((r) => { res.on("end", r); res.on("error", () => r()); res.on("close", r); });
}

export async function readText(res: IncomingMessage, max = 64 * 1024): Promise<string> {
  let out = "";
  for await (const chunk of res) {
    if (out.length < max) out += chunk.toString();
  }
  return out.slice(0, max);
}

/** HEAD a URL: the length when 200, null when 404; throws when unreachable or anything else. */
export async function headLength(url: string, timeoutMs = 5_000): Promise<number | null> {
  const res = await httpRequest(url, { method: "HEAD", timeoutMs });
  await drain(res);
  if (res.statusCode === 404) return null;
  if (res.statusCode !== 200) throw new HttpError(`HEAD ${url}: status ${res.statusCode}`, res.statusCode ?? null, true);
  return Number(res.headers["content-length"] ?? 0);
}

/** DELETE a URL; true when gone (2xx or 404). */
export async function deleteUrl(url: string, timeoutMs = 10_000): Promise<boolean> {
  const res = await httpRequest(url, { method: "DELETE", timeoutMs });
  await drain(res);
  const s = res.statusCode ?? 0;
  return (s >= 200 && s < 300) || s === 404;
}
