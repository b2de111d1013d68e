// The legacy actor: the classic MogileFS tracker protocol over TCP, each command forwarded as its NATS request.
import net from "node:net";
import { z } from "zod";
import { actorConfig } from "../runtime/config.ts";
import { stoppedSignal, type ActorContext, type ActorSpec } from "../runtime/actor.ts";
import { MogileClient } from "../../protocol/client.ts";
import { LegacyConnection } from "./connection.ts";
import { dispatcher } from "./dispatch.ts";
import { isAllowed, parseAllowList } from "./access.ts";
import { errLine } from "./codec.ts";
import { measured } from "./metrics.ts";
import { PathsCache } from "./paths_cache.ts";
import { subjects } from "../../protocol/subjects.ts";

/** Refused sockets (forbidden or busy) that may linger at once on top of the served ones; beyond that Node closes new ones silently. */
const REFUSED_SLACK = 100;
/** How long a refused socket may take to read its ERR line and hang up. */
const REFUSED_LINGER_MS = 1_000;
/** Distinct refused addresses remembered so each is logged once (a scan must not flood the log). */
const REFUSED_LOGGED_MAX = 1_000;

const Config = z.object({
  /** TCP port of the classic tracker protocol (MogileFS: 7001) */
  MOGILE_LEGACY_PORT: z.coerce.number().int().min(0).max(65535).default(7001),
  /** address to listen on; loopback by default, because the protocol has no authentication */
  MOGILE_LEGACY_BIND: z.string().min(1).default("127.0.0.1"),
  /** client networks allowed, comma-separated addresses or CIDRs, IPv4 and IPv6 ("0.0.0.0/0,::/0" = everyone) */
  MOGILE_LEGACY_ALLOW: z.string().default("127.0.0.0/8,::1").superRefine((spec, zctx) => {
    try { parseAllowList(spec); } catch (err) { zctx.addIssue({ code: "custom", message: (err as Error).message }); }
  }),
  /** milliseconds a connection may stay silent with nothing to answer before it is closed */
  MOGILE_LEGACY_IDLE_MS: z.coerce.number().int().positive().default(300_000),
  /** concurrent client connections; one more is answered ERR busy and closed */
  MOGILE_LEGACY_MAX_CONNS: z.coerce.number().int().min(1).default(1000),
  /** longest request line in bytes; MogileFS has no limit, but nothing legitimate comes near this */
  MOGILE_LEGACY_MAX_LINE: z.coerce.number().int().min(1024).default(64 * 1024),
  /** request lines read ahead per connection before it stops reading (they are answered in order) */
  MOGILE_LEGACY_MAX_QUEUED: z.coerce.number().int().min(1).default(100),
  /** milliseconds one command may take over NATS (MogileFS kills a query worker silent for 30 s) */
  MOGILE_LEGACY_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** milliseconds a client may leave a reply unread before it is dropped (MogileFS: 120 s) */
  MOGILE_LEGACY_WRITE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** milliseconds stop() waits for connections to finish their requests before cutting them */
  MOGILE_LEGACY_DRAIN_MS: z.coerce.number().int().positive().default(5_000),
  /** milliseconds a get_paths answer (noverify) is reused for the same key, unless the file or the cluster changes sooner; 0 = off */
  MOGILE_LEGACY_PATHS_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
});

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const client = await MogileClient.connect({ nc: ctx.nc, timeoutMs: cfg.MOGILE_LEGACY_COMMAND_TIMEOUT_MS });
  const paths = new PathsCache(cfg.MOGILE_LEGACY_PATHS_CACHE_MS);
  // every file, device, host and name change anywhere in the cluster drops what it may have made stale
  const events = paths.enabled
    ? ctx.nc.subscribe(subjects.eventAll, {
      callback: (err, m) => { if (err || !m) paths.clear(); else paths.event(m.subject, m.data, subjects.fileChanged, subjects.keysChanged); },
    })
    : null;
  // events missed while the connection was down: nothing kept from before can be trusted
  if (paths.enabled) void (async () => { for await (const s of ctx.nc.status()) if (s.type === "reconnect" || s.type === "disconnect") paths.clear(); })().catch(() => {});
  const answer = measured(dispatcher({ client, timeoutMs: cfg.MOGILE_LEGACY_COMMAND_TIMEOUT_MS, log: ctx.log, paths }));
  const connections = new Set<LegacyConnection>();
  const { stopped, done } = stoppedSignal();
  let stopping = false;

  const allow = parseAllowList(cfg.MOGILE_LEGACY_ALLOW);
  const refusedLogged = new Set<string>();

  /** Answer one ERR line and hang up, reading and discarding whatever the client sent (so our close is not a reset). */
  const refuse = (socket: net.Socket, line: string) => {
    socket.on("error", () => {});
    socket.resume();
    socket.end(line);
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  };

  // allowHalfOpen: a client may send its requests and shut down its side; it still gets every reply
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const remote = socket.remoteAddress;
    if (!isAllowed(allow, remote)) {
      // checked before anything is read: a client outside the allowlist cannot run a single command
      const addr = remote ?? "unknown";
      if (!refusedLogged.has(addr)) {
        if (refusedLogged.size >= REFUSED_LOGGED_MAX) refusedLogged.clear();
        refusedLogged.add(addr);
        ctx.log.warn("legacy client outside MOGILE_LEGACY_ALLOW refused", { remote: addr });
      }
      return refuse(socket, errLine("forbidden", `${addr} is not allowed`));
    }
    if (connections.size >= cfg.MOGILE_LEGACY_MAX_CONNS) {
      ctx.log.debug("legacy connection refused: too many connections", { remote, connections: connections.size });
      return refuse(socket, errLine("busy", "too many connections"));
    }
    const conn = new LegacyConnection(socket, {
      maxLineBytes: cfg.MOGILE_LEGACY_MAX_LINE,
      maxQueued: cfg.MOGILE_LEGACY_MAX_QUEUED,
      writeTimeoutMs: cfg.MOGILE_LEGACY_WRITE_TIMEOUT_MS,
      idleMs: cfg.MOGILE_LEGACY_IDLE_MS,
      answer,
      log: ctx.log,
    });
    connections.add(conn);
    void conn.closed.then(() => connections.delete(conn));
    if (stopping) conn.drain();
  });
  // a backstop only: beyond this Node closes new sockets at once, without the ERR busy line
  server.maxConnections = cfg.MOGILE_LEGACY_MAX_CONNS + REFUSED_SLACK;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.MOGILE_LEGACY_PORT, cfg.MOGILE_LEGACY_BIND, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // after listening, a server error (rare: e.g. EMFILE on accept) ends the actor so the launcher notices
  server.on("error", (err) => { ctx.log.error("legacy server failed", { err }); done(err); });
  const addr = server.address() as net.AddressInfo;
  ctx.log.info("classic tracker protocol listening", { host: addr.address, port: addr.port, allow: cfg.MOGILE_LEGACY_ALLOW });

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
      events?.unsubscribe();
      done();
      return stopped;
    },
  };
}

export const spec: ActorSpec = { role: "legacy", mongo: false, jetstream: false, start };
