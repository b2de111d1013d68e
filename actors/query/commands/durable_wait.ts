// Waiting for a new file's copies (per-class durable_copies, create_close wait_replicated).
// One subscription per query actor to the replicator's file-changed events wakes the waiters of
// that fid; a backed-off poll by primary key covers missed events.
import { z } from "zod";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { subjects } from "../../../protocol/subjects.ts";
import { FileChanged } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { actorConfig } from "../../runtime/config.ts";
import { sleep } from "../../runtime/actor.ts";
import { fileId } from "../../runtime/mongo.ts";
import { spreadCount, type Placed, type ReplPolicy } from "../../runtime/domain/policy.ts";
import type { QueryContext } from "../context.ts";

const Config = z.object({
  /**
   * how long create_close waits for durable copies before it answers replication_timeout (ms);
   * below the SDK's 10 s request timeout, so the caller hears the clear error, not its own timeout
   */
  MOGILE_DURABLE_WAIT_MS: z.coerce.number().int().positive().default(8_000),
});
let cfg: Readonly<z.infer<typeof Config>> | null = null;
export const durableWaitMs = () => (cfg ??= actorConfig(Config)).MOGILE_DURABLE_WAIT_MS;

/** fid → wake-up functions of the create_close calls waiting on it */
const waiters = new Map<number, Set<() => void>>();
let sub: { nc: NatsConnection; sub: Subscription } | null = null;

function listen(nc: NatsConnection): void {
  if (sub?.nc === nc && !sub.sub.isClosed()) return;
  const s = nc.subscribe(subjects.fileChanged, {
    callback: (err, msg) => {
      if (err || waiters.size === 0) return;
      let fid: number;
      try { fid = FileChanged.parse(msg.json()).fid; } catch { return; }
      for (const wake of waiters.get(fid) ?? []) wake();
    },
  });
  sub = { nc, sub: s };
}

/**
 * Wait until the file (domain, key) at `fid` has `k` copies counted as its policy counts them
 * (distinct hosts; distinct devices for MultipleDevices). Throws replication_timeout after
 * `timeoutMs` — the file stays linked and replication carries on. Returns quietly if the key
 * was replaced or deleted meanwhile (nothing left to wait for).
 */
export async function waitForCopies(ctx: QueryContext, domain: string, key: string, fid: number, k: number, policy: ReplPolicy, timeoutMs = durableWaitMs()): Promise<void> {
  listen(ctx.nc);
  const deadline = Date.now() + timeoutMs;
  let wake: (() => void) | null = null;
  const woken = () => new Promise<void>((r) => { wake = r; });
  let set = waiters.get(fid);
  if (!set) waiters.set(fid, (set = new Set()));
  const onEvent = () => wake?.();
  set.add(onEvent);
  let have = 0;
  try {
    for (let pollMs = 100; ; pollMs = Math.min(pollMs * 2, 1_000)) {
      const next = woken(); // armed before the read, so an event during it is not lost
      const doc = await ctx.store.files.findOne({ _id: fileId(domain, key) }, { projection: { fid: 1, devids: 1 } });
      if (!doc || doc.fid !== fid) return;
      const on = doc.devids.map((devid) => ctx.devices.row(devid)).filter((r) => r !== null && r.dev.status !== "dead")
        .map((r): Placed => ({ devid: r!.dev._id, hostid: r!.dev.hostid }));
      have = spreadCount(policy, on);
      if (have >= k) return;
      const left = deadline - Date.now();
      if (left <= 0) break;
      const timer = new AbortController();
      await Promise.race([next, sleep(Math.min(pollMs, left), timer.signal).catch(() => {})]);
      timer.abort();
    }
  } finally {
    set.delete(onEvent);
    if (set.size === 0) waiters.delete(fid);
  }
  throw new MogileError("replication_timeout", `fid ${fid} is stored and linked under ${key}, but has ${have} of ${k} durable copies after ${timeoutMs} ms; replication continues`);
}
