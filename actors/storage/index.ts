// The storage actor: serves file I/O over HTTP, registers its devices, heartbeats, and pulls replicas.
import { listFids, ListRequest } from "./list.ts";
import { statfs } from "node:fs/promises";
import path from "node:path";
import type { Server } from "node:http";
import { z } from "zod";
import type { Subscription } from "@nats-io/nats-core";
import { actorConfig, httpScheme } from "../runtime/config.ts";
import { stoppedSignal, sleep, type ActorSpec, type ActorContext } from "../runtime/actor.ts";
import { subjects } from "../../protocol/subjects.ts";
import { StorageFetch, type Heartbeat } from "../../protocol/schemas.ts";
import { fidPath } from "../../protocol/paths.ts";
import { httpRequest, drain } from "../../protocol/http.ts";
import { MogileClient } from "../../protocol/client.ts";
import { fileStore, sweepTempFiles, isHashName, type FileStore, type Written } from "./files.ts";
import { createFileServer, DEFAULT_LIMITS } from "./server.ts";
import { PROTECTED_HEADER } from "./access.ts";
import { clusterKey } from "../runtime/secrets.ts";
import { clusterSignedUrl } from "../runtime/urlsign.ts";
import { MountTable, deviceDir } from "./mount.ts";
import { RegisteredSources } from "./sources.ts";
import { pullDone } from "./metrics.ts";

const Config = z.object({
  /** host name registered with the tracker (unique per storage host) */
  MOGILE_STORAGE_HOST: z.string().min(1).default("host1"),
  /** address other nodes and clients use to reach this node (registered with the tracker) */
  MOGILE_STORAGE_IP: z.string().default("127.0.0.1"),
  /** address the HTTP server binds to (default: MOGILE_STORAGE_IP; 0.0.0.0 behind NAT or a load balancer) */
  MOGILE_STORAGE_LISTEN: z.string().optional(),
  /** the host's zone (rack, room, site): placement spreads a file's copies across zones */
  MOGILE_STORAGE_ZONE: z.string().min(1).max(64).optional(),
  /** HTTP port for file I/O */
  MOGILE_STORAGE_PORT: z.coerce.number().int().min(1).max(65535).default(7500),
  /** document root holding one dev<N> directory per device */
  MOGILE_STORAGE_ROOT: z.string().default("./var/storage/host1"),
  /** comma-separated device ids served by this node */
  MOGILE_STORAGE_DEVICES: z.string().default("1,2").transform((s) => s.split(",").map((x) => Number(x.trim())).filter((n) => n > 0)),
  /**
   * the host id the launcher registered this host under; 0: register by name at start (a NATS user
   * that may call register_storage)
   */
  MOGILE_STORAGE_HOSTID: z.coerce.number().int().min(0).default(0),
  /** how often each device's heartbeat is published (ms) */
  MOGILE_HEARTBEAT_MS: z.coerce.number().int().positive().default(1000),
  /** how long a device's mount check (its .mogile-device marker) is trusted before it is read again (ms) */
  MOGILE_MOUNT_CHECK_MS: z.coerce.number().int().positive().default(1000),
  /** HTTP: the whole request head must arrive within this (ms) */
  MOGILE_STORAGE_HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_LIMITS.headersTimeoutMs),
  /** HTTP: a connection with no byte moving either way for this long is closed (ms); bounds slow bodies, not big ones */
  MOGILE_STORAGE_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_LIMITS.idleTimeoutMs),
  /** HTTP: a cap on one whole request, body included (ms); 0 = none, as uploads of many GiB take long */
  MOGILE_STORAGE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(0).default(DEFAULT_LIMITS.requestTimeoutMs),
  /** HTTP: an idle keep-alive connection is closed after this (ms) */
  MOGILE_STORAGE_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_LIMITS.keepAliveTimeoutMs),
  /** HTTP: the largest request head accepted (bytes); larger ones get 431 */
  MOGILE_STORAGE_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).max(1 << 20).default(DEFAULT_LIMITS.maxHeaderBytes),
});

export async function start(ctx: ActorContext) {
  const cfg = actorConfig(Config);
  const log = ctx.log.child({ host: cfg.MOGILE_STORAGE_HOST });
  const root = path.resolve(cfg.MOGILE_STORAGE_ROOT);
  // no mkdir of device directories here: a missing one is an unmounted disk (or a device never
  // added), and creating it would fill the root filesystem; see mount.ts
  const mounts = new MountTable(root, new Set(cfg.MOGILE_STORAGE_DEVICES), cfg.MOGILE_MOUNT_CHECK_MS, (devid, m) => {
    if (m.mounted) log.info("device mounted", { devid });
    else log.warn("device not mounted: neither written nor read until its marker is back", { devid, reason: m.reason });
  });
  // fid files are created with their final mode (0644, or 0640 when protected); a umask of 022
  // keeps both, so no chmod per file is needed (files.ts still chmods under a stricter umask)
  process.umask(0o022);
  const fs = fileStore(root, cfg.MOGILE_STORAGE_DEVICES, mounts);
  for (const devid of cfg.MOGILE_STORAGE_DEVICES) await mounts.check(devid);
  await sweepTempFiles(root, log);
  // compose PUTs read only from registered nodes: known once this node is registered itself
  let sources: RegisteredSources | null = null;
  const server = createFileServer(fs, log, {
    key: clusterKey(),
    sources: () => sources,
    limits: {
      headersTimeoutMs: cfg.MOGILE_STORAGE_HEADERS_TIMEOUT_MS,
      idleTimeoutMs: cfg.MOGILE_STORAGE_IDLE_TIMEOUT_MS,
      requestTimeoutMs: cfg.MOGILE_STORAGE_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: cfg.MOGILE_STORAGE_KEEPALIVE_TIMEOUT_MS,
      maxHeaderBytes: cfg.MOGILE_STORAGE_MAX_HEADER_BYTES,
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.MOGILE_STORAGE_PORT, cfg.MOGILE_STORAGE_LISTEN ?? cfg.MOGILE_STORAGE_IP, () => resolve());
  });
  const baseUrl = `${httpScheme()}://${cfg.MOGILE_STORAGE_IP}:${cfg.MOGILE_STORAGE_PORT}`;
  log.info("serving files", { url: baseUrl, root, devices: cfg.MOGILE_STORAGE_DEVICES.join(",") });

  const abort = new AbortController();
  const { stopped, done } = stoppedSignal();
  let fetchSub: Subscription | null = null;
  let listSub: Subscription | null = null;

  // registration waits for a query actor; heartbeats and replica pulls need the host id it returns
  const background = (async () => {
    const client = await MogileClient.connect({ nc: ctx.nc, timeoutMs: 5_000 });
    // a host the launcher registered already (its NATS user may not register hosts)
    let hostid = cfg.MOGILE_STORAGE_HOSTID;
    for (let attempt = 1; !hostid && !abort.signal.aborted; attempt++) {
      try {
        const r = await client.rpc("register_storage", { host: cfg.MOGILE_STORAGE_HOST, ip: cfg.MOGILE_STORAGE_IP, port: cfg.MOGILE_STORAGE_PORT, devids: cfg.MOGILE_STORAGE_DEVICES, ...(cfg.MOGILE_STORAGE_ZONE ? { zone: cfg.MOGILE_STORAGE_ZONE } : {}) });
        hostid = r.hostid;
        break;
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0) log.warn("registration not answered yet; retrying", { attempt, err });
        await sleep(Math.min(2000, 100 * attempt), abort.signal);
      }
    }
    if (abort.signal.aborted) return;
    log.info("registered", { hostid });
    const registered = new RegisteredSources(client);
    sources = registered;
    fetchSub = ctx.nc.subscribe(subjects.storage(hostid, "fetch"), {
      callback: (err, msg) => {
        if (err) return;
        pullReplica(fs, registered, msg.data).then(
          (w) => { pullDone(w.length); msg.respond(JSON.stringify({ ok: true, length: w.length, ...(w.digest ? { digest: w.digest } : {}) })); },
          (e: Error) => { pullDone(null); msg.respond(JSON.stringify({ ok: false, error: e.message })); },
        );
      },
    });
    // fsck asks what is on a device, to find bytes no key names
    listSub = ctx.nc.subscribe(subjects.storage(hostid, "list"), {
      callback: (err, msg) => {
        if (err) return;
        Promise.resolve().then(() => listFids(root, mounts, ListRequest.parse(msg.json()))).then(
          (r) => msg.respond(JSON.stringify(r)),
          (e: Error) => msg.respond(JSON.stringify({ ok: false, error: e.message })),
        );
      },
    });
    while (!abort.signal.aborted) {
      await publishHeartbeats(ctx, fs, mounts, hostid, cfg.MOGILE_STORAGE_HOST, baseUrl).catch((err) => log.warn("heartbeat failed", { err }));
      await sleep(cfg.MOGILE_HEARTBEAT_MS, abort.signal);
    }
  })();
  background.catch((err) => done(err));

  return {
    stopped,
    async stop() {
      abort.abort();
      fetchSub?.unsubscribe();
      listSub?.unsubscribe();
      await closeServer(server);
      await background.catch(() => {});
      done();
    },
  };
}

async function publishHeartbeats(ctx: ActorContext, fs: FileStore, mounts: MountTable, hostid: number, host: string, url: string) {
  for (const devid of fs.devids) {
    const m = await mounts.check(devid);
    if (!m.mounted) {
      // still heartbeating, so the monitor can tell "not mounted" from "host gone"; no sizes: a
      // statfs here would describe whatever filesystem holds the empty mount point
      const hb: Heartbeat = { hostid, devid, host, url, total: 0, used: 0, free: 0, ts: Date.now(), writable: false, mounted: false, reason: m.reason };
      ctx.nc.publish(subjects.heartbeat(hostid, devid), JSON.stringify(hb));
      continue;
    }
    // one failing device must not silence the others: it simply misses its heartbeat
    const st = await statfs(deviceDir(fs.root, devid)).catch((err) => { ctx.log.warn("device unreadable", { devid, err }); return null; });
    if (!st) continue;
    const total = st.blocks * st.bsize;
    const hb: Heartbeat = {
      hostid, devid, host, url,
      total, free: st.bavail * st.bsize, used: total - st.bfree * st.bsize,
      ts: Date.now(),
      writable: true,
      mounted: true,
    };
    ctx.nc.publish(subjects.heartbeat(hostid, devid), JSON.stringify(hb));
  }
}

/**
 * Replication, destination side: GET the fid from a peer and store it durably on our device.
 * With `hashtype` the digest is computed while streaming (and returned); with `checksum` too, a
 * copy whose digest differs is refused before it is renamed into place. The GET is signed with
 * the cluster key (the source may be protected); the copy is protected when the request says so
 * (the file's domain needs signed reads) or the source copy is.
 */
async function pullReplica(fs: FileStore, sources: RegisteredSources, data: Uint8Array): Promise<Written> {
  const job = StorageFetch.parse(JSON.parse(new TextDecoder().decode(data)));
  const target = fs.resolve(fidPath(job.devid, job.fid));
  if (!target) throw new Error(`device ${job.devid} is not on this node`);
  await fs.assertMounted(job.devid);
  const src = await sources.check(job.from, job.fid);
  const res = await httpRequest(clusterSignedUrl(job.from, "GET", src.devid, src.fid), { method: "GET", timeoutMs: 60_000 });
  if (res.statusCode !== 200) {
    await drain(res);
    throw new Error(`source ${job.from} answered ${res.statusCode}`);
  }
  const len = Number(res.headers["content-length"]);
  if (len !== job.length) {
    res.destroy();
    throw new Error(`source ${job.from} has ${len} bytes; expected ${job.length}`);
  }
  const alg = job.hashtype && job.hashtype !== "NONE" ? job.hashtype : undefined;
  if (alg !== undefined && !isHashName(alg)) {
    res.destroy();
    throw new Error(`unknown hash type ${alg}`);
  }
  const expect = alg && job.checksum?.startsWith(`${alg}:`) ? job.checksum : undefined;
  const protect = job.protected === true || res.headers[PROTECTED_HEADER] === "1";
  // a copy may replace one already there: it is the cluster's own, checked copy (an earlier pull
  // may have stored it without being recorded)
  return fs.writeDurably(target.file, res, job.length, alg ? { hash: alg, expect } : undefined, { protect, replace: true });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
  });
}

export const spec: ActorSpec = { role: "storage", mongo: false, jetstream: false, start };
