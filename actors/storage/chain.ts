// Chain replication on the storage side: a PUT whose signed URL names further devices stores the
// body here and, at the same time, passes it on to the next device of the chain (which passes it
// on to the rest). The answer comes once the local copy is durable and the next hop has answered,
// and lists every device that holds a durable copy. A failed hop never fails the local write (the
// replicator makes the missing copies); a failed local write leaves no copy downstream.
import { PassThrough, type Readable, type Writable } from "node:stream";
import { httpRequest, readText, deleteUrl } from "../../protocol/http.ts";
import { signUrl, clusterSignedUrl, CLUSTER_URL_TTL_SEC } from "../runtime/urlsign.ts";
import { formatChain, hopUrl, verifyReceipt, RECEIPT_HEADER, type Hop } from "../runtime/chain.ts";
import type { Logger } from "../runtime/log.ts";
import { SMALL_BODY, readSmall, type DigestOptions, type FileStore, type Written, type WriteOptions } from "./files.ts";

/** How long a chain hop may stay silent (per hop still ahead of it), MOGILE_CHAIN_HOP_IDLE_MS. */
const HOP_IDLE_MS = Number(process.env.MOGILE_CHAIN_HOP_IDLE_MS ?? 10_000);

export interface ChainPut {
  file: string;
  devid: number;
  fid: number;
  expected: number | undefined;
  digest: DigestOptions | undefined;
  opts: WriteOptions;
  /** the rest of the chain, the next hop first */
  hops: Hop[];
  /** the cluster key: signs the hop's URL, checks its receipt */
  key: Buffer;
}

/** Store locally and down the chain; resolves with the local result and every device holding a copy. */
export async function storeAndForward(fs: FileStore, log: Logger, req: Readable, p: ChainPut): Promise<{ written: Written; copies: number[] }> {
  const [next, ...rest] = p.hops;
  if (!next) return { written: await fs.writeDurably(p.file, req, p.expected, p.digest, p.opts), copies: [p.devid] };
  const url = signUrl(p.key, hopUrl(next, p.fid), {
    method: "PUT", devid: next.devid, fid: p.fid, expires: Math.floor(Date.now() / 1000) + CLUSTER_URL_TTL_SEC,
    maxLength: p.opts.maxLength, protect: p.opts.protect, ...(rest.length ? { chain: formatChain(rest) } : {}),
  });
  const headers: Record<string, string> = {};
  if (p.digest) headers["x-mogile-hashtype"] = p.digest.hash;

  let written: Written;
  let downstream: Promise<Downstream>;
  if (p.expected !== undefined && p.expected <= SMALL_BODY) {
    // small: the body is gathered anyway; sent on and written here at once
    const body = await readSmall(req, p.expected);
    downstream = forward(url, body, headers, body.length, p, next);
    try {
      written = await fs.writeDurably(p.file, body, p.expected, p.digest, p.opts);
    } catch (err) {
      await undo(downstream, p, log);
      throw err;
    }
  } else {
    // streamed: one reader, two writers, at the pace of the slower; a hop that fails is dropped
    const t = tee(req);
    if (p.expected !== undefined) headers["content-length"] = String(p.expected);
    downstream = forward(url, t.remote, headers, p.expected, p, next).finally(t.dropRemote);
    try {
      written = await fs.writeDurably(p.file, t.local, p.expected, p.digest, p.opts);
    } catch (err) {
      // the hop's request is aborted at once (not left to its idle timeout), and the reader stops
      t.dropRemote();
      t.local.destroy();
      await undo(downstream, p, log);
      throw err;
    }
  }
  const d = await downstream;
  if (d.error === null && d.length !== written.length) d.error = `stored ${d.length} bytes, not ${written.length}`;
  if (d.error === null && written.digest && d.digest && d.digest.toLowerCase() !== written.digest.toLowerCase()) d.error = `digest ${d.digest}, not ${written.digest}`;
  if (d.error !== null) {
    log.warn("chain hop failed; the replicator makes the missing copies", { fid: p.fid, devid: next.devid, err: d.error });
    // before answering: a classic create_close checks the chain's copies, and must not find one
    // that is about to go
    if (d.copies.length) await removeCopies(d.copies, p, log);
    return { written, copies: [p.devid] };
  }
  return { written, copies: [p.devid, ...d.copies.filter((x) => x !== p.devid)] };
}

interface Downstream { error: string | null; copies: number[]; length?: number; digest?: string }

/**
 * PUT to the next hop; never rejects. `copies` are the devices the hop's own receipt (signed with
 * the cluster key) says hold the body, limited to this chain's devices.
 */
async function forward(url: string, body: Buffer | Readable, headers: Record<string, string>, length: number | undefined, p: ChainPut, next: Hop): Promise<Downstream> {
  try {
    // an idle timeout: the hop answers after its fsync and its own hops (HOP_IDLE_MS each, and time
    // to fsync at 50 MB/s). A hop on a machine cut off (packets dropped, nothing refused) is given
    // up after that, not after minutes: the copy is the replicator's then
    const timeoutMs = length === undefined ? 300_000 : HOP_IDLE_MS * p.hops.length + Math.ceil(length / 50_000);
    const res = await httpRequest(url, { method: "PUT", body, headers, timeoutMs });
    const text = await readText(res, 4096);
    if (res.statusCode !== 201) return { error: `${res.statusCode} ${text.trim()}`, copies: [] };
    const receipt = verifyReceipt(p.key, p.fid, String(res.headers[RECEIPT_HEADER] ?? ""));
    const chained = new Set(p.hops.map((h) => h.devid));
    if (!receipt || receipt.devids[0] !== next.devid || !receipt.devids.every((d) => chained.has(d))) {
      return { error: "the hop's receipt does not verify", copies: [] };
    }
    return { error: null, copies: receipt.devids, length: receipt.length, ...(receipt.digest ? { digest: receipt.digest } : {}) };
  } catch (err) {
    return { error: (err as Error).message, copies: [] };
  }
}

/**
 * After a failed local write: the copies made downstream go too (no one will record them), before
 * the failure is answered, so a client that sees it finds nothing left behind.
 */
async function undo(downstream: Promise<Downstream>, p: ChainPut, log: Logger): Promise<void> {
  const d = await downstream;
  if (d.error === null && d.copies.length) await removeCopies(d.copies, p, log);
}

async function removeCopies(devids: number[], p: ChainPut, log: Logger): Promise<void> {
  for (const devid of devids) {
    const hop = p.hops.find((h) => h.devid === devid);
    if (!hop) continue;
    const ok = await deleteUrl(clusterSignedUrl(hopUrl(hop, p.fid), "DELETE", devid, p.fid)).catch(() => false);
    if (!ok) log.warn("an unrecorded chain copy could not be removed (fsck will)", { fid: p.fid, devid });
  }
}

/**
 * Two readables fed from one: `local` and `remote` get every chunk; reading goes at the pace of the
 * slower of the two. `dropRemote` detaches the remote side (a failed hop) without disturbing `local`.
 */
function tee(src: Readable): { local: PassThrough; remote: PassThrough; dropRemote: () => void } {
  const local = new PassThrough({ highWaterMark: 1 << 20 });
  const remote = new PassThrough({ highWaterMark: 1 << 20 });
  let remoteOn = true;
  const dropRemote = () => {
    if (!remoteOn) return;
    remoteOn = false;
    // with an error, so the request carrying it to the hop is aborted (not left to time out)
    remote.destroy(new Error("chain hop dropped"));
  };
  remote.on("error", dropRemote);
  // the local writer may not be reading yet when the client aborts: its pipeline sees the error
  local.on("error", () => {});
  void (async () => {
    try {
      for await (const chunk of src) {
        if (local.destroyed) return;
        const a = local.write(chunk);
        const b = remoteOn ? remote.write(chunk) : true;
        if (!a || !b) await Promise.all([a ? null : drained(local), b || !remoteOn ? null : drained(remote)]);
      }
      local.end();
      if (remoteOn) remote.end();
    } catch (err) {
      local.destroy(err as Error);
      dropRemote();
    }
  })();
  return { local, remote, dropRemote };
}

/** resolves when `s` can take more, or is gone */
function drained(s: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { s.off("drain", done); s.off("close", done); resolve(); };
    s.on("drain", done);
    s.on("close", done);
  });
}
