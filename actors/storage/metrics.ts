// Storage agent metrics: HTTP requests by method and status, their duration (bodies included), and
// bytes in and out. Bytes are read off each connection's socket counters when a request ends (head
// and body, as on the wire), so nothing is counted per chunk on the data path.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { counter, histogram, TRANSFER_BUCKETS } from "../runtime/metrics.ts";

const METHODS = ["GET", "HEAD", "PUT", "DELETE", "other"] as const;
const methodOf = (m: string | undefined): number => {
  switch (m) {
    case "GET": return 0;
    case "HEAD": return 1;
    case "PUT": return 2;
    case "DELETE": return 3;
    default: return 4;
  }
};

const requests = counter({ name: "mogile_storage_requests_total", help: "HTTP requests this storage agent answered, by method and status", labelNames: ["method", "status"] as const });
const duration = histogram({ name: "mogile_storage_request_duration_seconds", help: "Time from a request's arrival until it was handled (body included)", labelNames: ["method"] as const, buckets: TRANSFER_BUCKETS });
const received = counter({ name: "mogile_storage_received_bytes_total", help: "Bytes received over HTTP (request heads and bodies: uploads, chain hops), by method", labelNames: ["method"] as const });
const sent = counter({ name: "mogile_storage_sent_bytes_total", help: "Bytes sent over HTTP (response heads and bodies: reads, replica sources), by method", labelNames: ["method"] as const });
const pulled = counter({ name: "mogile_storage_pulled_bytes_total", help: "Bytes this agent pulled from peers and stored as replica copies" });
const pulls = counter({ name: "mogile_storage_pulls_total", help: "Replica pulls this agent was asked for, by result (ok, failed)", labelNames: ["result"] as const });

// labels bound once per method (and per method and status as they appear)
const bound = METHODS.map((m) => ({ dur: duration.labels(m), rx: received.labels(m), tx: sent.labels(m) }));
const byStatus = new Map<number, ReturnType<typeof requests.labels>>();
const pullOk = pulls.labels("ok"), pullFailed = pulls.labels("failed");

/** per connection: the socket's byte counters already counted (a keep-alive socket serves many requests) */
const COUNTED = Symbol("mogile.counted");
type Counted = Socket & { [COUNTED]?: { read: number; written: number } };

/** A request ended (its handler settled): `t0` from performance.now() when it arrived. */
export function storageRequestDone(req: IncomingMessage, res: ServerResponse, t0: number): void {
  const m = methodOf(req.method);
  const b = bound[m];
  b.dur.observe((performance.now() - t0) / 1000);
  const key = m * 1000 + res.statusCode;
  let c = byStatus.get(key);
  if (!c) byStatus.set(key, (c = requests.labels(METHODS[m], String(res.statusCode))));
  c.inc();
  const sock = req.socket as Counted | null;
  if (!sock) return;
  const seen = (sock[COUNTED] ??= { read: 0, written: 0 });
  const read = sock.bytesRead, written = sock.bytesWritten;
  if (read > seen.read) b.rx.inc(read - seen.read);
  if (written > seen.written) b.tx.inc(written - seen.written);
  seen.read = read;
  seen.written = written;
}

/** A replica pull ended: its bytes stored, or failed. */
export function pullDone(bytes: number | null): void {
  if (bytes === null) { pullFailed.inc(); return; }
  pullOk.inc();
  pulled.inc(bytes);
}
