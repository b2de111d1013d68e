// fsck's sweep for bytes no key names: lists every readable device's fids (from its storage
// agent) and queues the deletion of each copy that no file records, once it is older than any
// upload could still be open. What leaves such bytes: a crash between a key's removal and the
// queueing of its delete, an upload taken by a create_close that died before linking it, a copy
// made by a replicator killed before recording it. The deleter decides again when it runs (a
// copy recorded meanwhile stays; a copy is fenced while it goes), so a race here costs nothing.
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { subjects } from "../../protocol/subjects.ts";
import type { DeleteJob } from "../../protocol/schemas.ts";
import type { DeviceView } from "../runtime/devices.ts";
import type { Store } from "../runtime/mongo.ts";
import type { Logger } from "../runtime/log.ts";
import type { Uploads } from "../runtime/uploads.ts";

export interface OrphanDeps { store: Store; devices: DeviceView; nc: NatsConnection; js: JetStreamClient; log: Logger; uploads: Uploads }
interface Listed { fid: number; size: number; mtime: number }
interface ListReply { ok: boolean; error?: string; fids?: Listed[]; done?: boolean }

/** metadata lookups in flight during the sweep */
const LOOKUPS = 8;

export interface SweepResult { devices: number; listed: number; queued: number; skipped: string[] }

/** One pass over every readable device; copies younger than `minAgeMs` are left alone. */
export async function sweepUnreferenced(d: OrphanDeps, o: { minAgeMs: number; page?: number; signal?: AbortSignal }): Promise<SweepResult> {
  const r: SweepResult = { devices: 0, listed: 0, queued: 0, skipped: [] };
  for (const [devid, dev] of d.devices.devices) {
    if (o.signal?.aborted) break;
    if (dev.status === "dead" || !d.devices.readable(devid)) { r.skipped.push(`dev${devid}: not readable`); continue; }
    let after = 0;
    for (let pages = 0; pages < 1_000_000 && !o.signal?.aborted; pages++) {
      let reply: ListReply;
      try {
        const msg = await d.nc.request(subjects.storage(dev.hostid, "list"), JSON.stringify({ devid, after, limit: o.page ?? 1000 }), { timeout: 30_000 });
        reply = msg.json<ListReply>();
      } catch (err) {
        reply = { ok: false, error: (err as Error).message };
      }
      if (!reply.ok || !reply.fids) { r.skipped.push(`dev${devid}: ${reply.error ?? "no answer"}`); break; }
      r.listed += reply.fids.length;
      const old = reply.fids.filter((f) => Date.now() - f.mtime >= o.minAgeMs);
      // a few lookups at once: a device of a million files is a million indexed lookups
      for (let i = 0; i < old.length; i += LOOKUPS) {
        await Promise.all(old.slice(i, i + LOOKUPS).map(async (f) => {
          const doc = await d.store.files.findOne({ fid: f.fid }, { projection: { devids: 1 } });
          if (doc?.devids.includes(devid)) return;
          if (!doc && (await d.uploads.peek(f.fid))) return; // an open upload, still to be closed
          const job: DeleteJob = { fid: f.fid, devids: [devid], reason: "unreferenced" };
          await d.js.publish(subjects.deleteJob, JSON.stringify(job), { msgID: `del-${f.fid}-${devid}-unreferenced-${Date.now()}` });
          r.queued++;
          d.log.info("fsck: bytes no file records; deletion queued", { fid: f.fid, devid, bytes: f.size, named: !!doc });
        }));
      }
      if (reply.done || reply.fids.length === 0) break;
      after = reply.fids[reply.fids.length - 1].fid;
    }
    r.devices++;
  }
  return r;
}
