// The legacy actor: the classic MogileFS tracker protocol over TCP, each command forwarded as its NATS request.
import net from "node:net";
import { z } from "zod";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { MogileClient } from "../../protocol/client.ts";
import { LegacyConnection } from "./connection.ts";
import { dispatcher } from "./dispatch.ts";

const Config = z.object({
  /** TCP port of the classic tracker protocol (MogileFS: 7001) */
  MOGILE_LEGACY_PORT: z.coerce.number().int().min(0).max(65535).default(7001),
  /** address to listen on */
  MOGILE_LEGACY_HOST: z.string().default("127.0.0.1"),
  /** longest request line in bytes; MogileFS has no limit, but nothing legitimate comes near this */
  MOGILE_LEGACY_MAX_LINE: z.coerce.number().int().min(1024).default(64 * 1024),
  /** request lines read ahead per connection before it stops reading (they are answered in order) */
  MOGILE_LEGACY_MAX_QUEUED: z.coerce.number().int().min(1).default(100),
  /** concurrent client connections */
  MOGILE_LEGACY_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(1000),
  /** milliseconds one command may take over NATS (MogileFS kills a query worker silent for 30 s) */
  MOGILE_LEGACY_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** milliseconds a client may leave a reply unread before it is dropped (MogileFS: 120 s) */
  MOGILE_LEGACY_WRITE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** milliseconds stop() waits for connections to finish their requests before cutting them */
  MOGILE_LEGACY_DRAIN_MS: z.coerce.number().int().positive().default(5_000),
});

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const client = await MogileClient.connect({ nc: ctx.nc, timeoutMs: cfg.MOGILE_LEGACY_COMMAND_TIMEOUT_MS });
  const answer = dispatcher({ client, timeoutMs: cfg.MOGILE_LEGACY_COMMAND_TIMEOUT_MS, log: ctx.log });
  const connections = new Set<LegacyConnection>();
  const { stopped, done } = stoppedSignal();
  let stopping = false;

  // allowHalfOpen: a client may send its requests and shut down its side; it still gets every reply
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const conn = new LegacyConnection(socket, {
      maxLineBytes: cfg.MOGILE_LEGACY_MAX_LINE,
      maxQueued: cfg.MOGILE_LEGACY_MAX_QUEUED,
      writeTimeoutMs: cfg.MOGILE_LEGACY_WRITE_TIMEOUT_MS,
      answer,
      log: ctx.log,
    });
    connections.add(conn);
    void conn.closed.then(() => connections.delete(conn));
    if (stopping) conn.drain();
  });
  server.maxConnections = cfg.MOGILE_LEGACY_MAX_CONNECTIONS;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.MOGILE_LEGACY_PORT, cfg.MOGILE_LEGACY_HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // after listening, a server error (rare: e.g. EMFILE on accept) ends the actor so the launcher notices
  server.on("error", (err) => { ctx.log.error("legacy server failed", { err }); done(err); });
  const addr = server.address() as net.AddressInfo;
  ctx.log.info("classic tracker protocol listening", { host: addr.address, port: addr.port });

  return {
    stopped,
    async stop() {
      if (stopping) return stopped;
      stopping = true;
      // stop accepting, let each connection answer what it already received, then close it
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.drain();
      const force = setTimeout(() => {
        ctx.log.warn("legacy connections still busy after drain; closing them", { connections: connections.size });
        for (const c of connections) c.destroy();
      }, cfg.MOGILE_LEGACY_DRAIN_MS);
      force.unref();
      await closed;
      clearTimeout(force);
      done();
      return stopped;
    },
  };
}

export const spec: ActorSpec = { role: "legacy", mongo: false, start };
