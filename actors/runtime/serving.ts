// What the HTTP-serving actors (gateway, s3) share: dropping cached keys when a key changes, and
// closing their server gracefully.
import type { Server } from "node:http";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { subjects } from "../../protocol/subjects.ts";

/** Calls `forget(id)` when a key changes (revoked, added), `forget()` when the event names none. */
export function watchKeys(nc: NatsConnection, forget: (id?: string) => void): Subscription {
  return nc.subscribe(subjects.keysChanged, {
    callback: (_err, msg) => {
      let id: unknown;
      try { id = msg.json<{ id?: unknown }>().id; } catch { /* malformed: forget every key */ }
      forget(typeof id === "string" ? id : undefined);
    },
  });
}

/** Stop accepting, let requests in flight finish, and cut what is left after `graceMs`. */
export function closeServer(server: Server, graceMs = 5_000): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}
