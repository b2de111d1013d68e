// fsck and rebalance state in the metadata store: one document each in `tasks`, and the `fscklog`
// collection. Query handlers only change these documents; the fsck actor does the work.
import type { GuardedCollection } from "../atomic.ts";
import type { FsckEvcode } from "../../../protocol/schemas.ts";
import type { Store } from "../mongo.ts";

export interface FsckState {
  _id: "fsck";
  /** an operator wants it to run (fsck_start .. fsck_stop, or until the walk ends) */
  running: boolean;
  /** bumped by fsck_start (fresh run) and fsck_reset: progress writes of an older generation are ignored */
  gen: number;
  /** the instance doing the work, while it does */
  host: string | null;
  policy_only: boolean;
  /** the checkpoint: every fid ≤ this was checked */
  max_fid_checked: number;
  end_fid: number;
  domain: string | null;
  class: string | null;
  /** unix seconds */
  start_time: number | null;
  stop_time: number | null;
  counts: Partial<Record<FsckEvcode, number>>;
  /** fids checked in this run, and the recent rate (fids/s) */
  checked: number;
  rate: number;
  /** files in (max_fid_checked, end_fid] when the run began; null until the actor counted them */
  total: number | null;
  /** copies no file records whose deletion the last whole-cluster run queued */
  unreferenced?: number;
}

export interface RebalanceState {
  _id: "rebalance";
  policy: string | null;
  running: boolean;
  gen: number;
  host: string | null;
  sdevs: number[];
  ddevs: number[];
  files_moved: number;
  bytes_moved: number;
  failed: number;
  /** set by a run (null after rebalance_reset): rebalance_status answers no_rebal_state without one */
  time_started: number | null;
  time_stopped: number | null;
  time_finished: number | null;
}

export interface FsckLogDoc { _id: number; utime: number; fid: number; evcode: FsckEvcode; devid?: number }

export interface Tasks {
  fsck: GuardedCollection<FsckState>;
  rebalance: GuardedCollection<RebalanceState>;
  log: GuardedCollection<FsckLogDoc>;
}

export function tasks(store: Store): Tasks {
  return {
    fsck: store.collection<FsckState>("tasks"),
    rebalance: store.collection<RebalanceState>("tasks"),
    log: store.collection<FsckLogDoc>("fscklog"),
  };
}

export const nowSec = () => Math.floor(Date.now() / 1000);

export const FSCK_DEFAULT: Omit<FsckState, "_id"> = {
  running: false, gen: 0, host: null, policy_only: false, max_fid_checked: 0, end_fid: 0,
  domain: null, class: null, start_time: null, stop_time: null, counts: {}, checked: 0, rate: 0, total: null,
};

export const REBALANCE_DEFAULT: Omit<RebalanceState, "_id"> = {
  policy: null, running: false, gen: 0, host: null, sdevs: [], ddevs: [], files_moved: 0, bytes_moved: 0, failed: 0,
  time_started: null, time_stopped: null, time_finished: null,
};

// documents are read over their defaults: a field stored as null may come back absent (FerretDB
// drops nulls from $setOnInsert), and null and absent mean the same here
export async function fsckState(t: Tasks): Promise<FsckState> {
  return { _id: "fsck", ...FSCK_DEFAULT, ...(await t.fsck.findOne({ _id: "fsck" })) };
}

export async function rebalanceState(t: Tasks): Promise<RebalanceState | null> {
  const doc = await t.rebalance.findOne({ _id: "rebalance" });
  return doc && { ...REBALANCE_DEFAULT, ...doc };
}

/** The highest fid in use: the fid counter (a block allocator's top) or an explicit higher fid. */
export async function currentMaxFid(store: Store): Promise<number> {
  const counter = await store.counters.findOne({ _id: "fid" });
  let max = 0;
  try {
    const [agg] = await store.files.aggregate<{ m: number }>([{ $group: { _id: null, m: { $max: "$fid" } } }]).toArray();
    max = agg?.m ?? 0;
  } catch {
    // FerretDB v1 has no $max accumulator: one streaming pass (a sort would hold every row in memory)
    for await (const f of store.files.find({}, { projection: { fid: 1 } })) if (f.fid > max) max = f.fid;
  }
  return Math.max(counter?.next ?? 0, max);
}

/** The MogileFS rebalance state string: `key=value` pairs. */
export function rebalanceStateString(r: RebalanceState): string {
  const kv: Record<string, string | number> = {
    source_devs: r.sdevs.join(","), dest_devs: r.ddevs.join(","),
    fids_queued: r.files_moved, bytes_queued: r.bytes_moved, failed: r.failed,
    time_started: r.time_started ?? 0, time_stopped: r.time_stopped ?? 0, time_finished: r.time_finished ?? 0,
  };
  return Object.entries(kv).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** The fsck state document, created with defaults on first use (a concurrent creation is fine). */
export async function ensureFsck(t: Tasks): Promise<FsckState> {
  await t.fsck.updateOne({ _id: "fsck" }, { $setOnInsert: FSCK_DEFAULT }, { upsert: true })
    .catch((err: { code?: number }) => { if (err.code !== 11000) throw err; });
  return fsckState(t);
}

export async function ensureRebalance(t: Tasks): Promise<RebalanceState> {
  await t.rebalance.updateOne({ _id: "rebalance" }, { $setOnInsert: REBALANCE_DEFAULT }, { upsert: true })
    .catch((err: { code?: number }) => { if (err.code !== 11000) throw err; });
  return (await rebalanceState(t))!;
}
