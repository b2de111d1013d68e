// create_close: verify the uploaded bytes (size, checksum), link the key to the new fid, queue
// replication, and for durable classes wait for the copies.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fidPath } from "../../../protocol/paths.ts";
import { headLength } from "../../../protocol/http.ts";
import { fileId } from "../../runtime/mongo.ts";
import { releaseFid } from "./util.ts";
import { httpRequest, readText } from "../../../protocol/http.ts";
import { decide, parsePolicy, placement, policyMin, type ReplPolicy } from "../../runtime/domain/policy.ts";
import { parseChain, verifyReceipt } from "../../runtime/chain.ts";
import type { DeviceView } from "../../runtime/devices.ts";
import { waitForCopies } from "./durable_wait.ts";
import { added, placementKey, type Placements } from "../../runtime/domain/placements.ts";
import type { Upload } from "../../runtime/uploads.ts";
import { clusterSignedUrl, verifyQuery } from "../../runtime/urlsign.ts";
import { policyMetAtClose } from "../../runtime/replication_metrics.ts";

/** `ALG:hex` compared case-insensitively in the hex, exactly in the algorithm name */
const normalizeChecksum = (c: string) => {
  const i = c.indexOf(":");
  return i < 0 ? c : `${c.slice(0, i)}:${c.slice(i + 1).toLowerCase()}`;
};

/** The digest of a stored copy, computed by its storage agent (`ALG:hex`); `url` is signed. */
async function digestOf(url: string, alg: string): Promise<string> {
  const res = await httpRequest(`${url}&digest=${encodeURIComponent(alg)}`, { method: "GET", timeoutMs: 120_000 });
  const text = (await readText(res)).trim();
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${text}`);
  return text;
}

export async function createClose(ctx: QueryContext, a: Parsed<"create_close">): Promise<Reply<"create_close">> {
  let u: URL;
  try { u = new URL(a.path); } catch { throw new MogileError("bogus_args", `path ${a.path} is not a URL`); }
  if (u.pathname !== fidPath(a.devid, a.fid)) throw new MogileError("bogus_args", `path ${a.path} is not fid ${a.fid} on device ${a.devid}`);

  // taking the upload record is the atomic step: a second close (or the reaper) finds nothing.
  // The record this actor wrote at create_open is taken without reading it back; if it changed
  // since, it is read and checked again.
  let upload: Upload | null = null;
  for (const mine of [true, false]) {
    // a close naming another domain is refused before anything is taken: it must not discard
    // someone else's open upload
    const open = await ctx.uploads.peek(a.fid, { mine });
    if (!open) throw new MogileError("no_temp_file", `fid ${a.fid} is not an open upload (closed already, or expired)`);
    if (open.upload.domain !== a.domain) throw new MogileError("bogus_args", `fid ${a.fid} was not opened in domain ${a.domain}`);
    // a path create_open handed out for this device carries its PUT signature (the expiry aside):
    // a mangled one is refused before the upload is taken. A foreign device is refused below.
    if (open.upload.devids.includes(a.devid) && u.searchParams.has("s") && !verifyQuery(ctx.urls.key, "PUT", a.devid, a.fid, u.searchParams, 0).ok) {
      throw new MogileError("bogus_args", `path ${u.origin}${u.pathname} does not carry the signature create_open gave it`);
    }
    upload = await ctx.uploads.takePeeked(open);
    if (upload || !open.cached) break;
  }
  if (!upload) throw new MogileError("no_temp_file", `fid ${a.fid} is not an open upload (closed already, or expired)`);

  // from here on every refusal discards the upload's bytes
  const discard = async (err: MogileError): Promise<never> => {
    await ctx.enqueueDelete({ fid: a.fid, devids: upload.devids, reason: "discard" });
    throw err;
  };
  if (!upload.devids.includes(a.devid)) {
    await discard(new MogileError("invalid_destdev", `File uploaded to invalid dest ${a.devid}. Valid devices were: ${upload.devids.join(", ")}`));
  }
  if (a.key === "") {
    await ctx.enqueueDelete({ fid: a.fid, devids: upload.devids, reason: "discard" });
    return { fid: a.fid, key: "", length: 0 };
  }
  const url = ctx.devices.url(a.devid, a.fid) ?? a.path.split("?")[0];
  // the copy may be protected (a signed_get domain): the checks read it through a signed URL
  const readUrl = clusterSignedUrl(url, "GET", a.devid, a.fid);
  // The storage node's receipt (signed with the cluster key) vouches for the copies the PUT and
  // its chain wrote: recorded without a call back to the disks. Without one (classic clients),
  // the copy the client wrote is checked, and so are those its path's chain was to make.
  const receipt = a.receipt ? verifyReceipt(ctx.urls.key, a.fid, a.receipt) : null;
  const vouched = receipt && receipt.devids[0] === a.devid && receipt.devids.every((d) => upload.devids.includes(d)) ? receipt : null;
  if (a.receipt && !vouched) ctx.log.warn("create_close: a receipt that does not verify; checking the copies instead", { fid: a.fid });
  const chained = vouched ? [] : chainOf(u, a.devid, upload.devids);
  // the checks and the class lookup do not depend on each other
  const checksum = a.checksum ?? upload.checksum;
  const [head, cls, chainedLengths] = await Promise.all([
    vouched
      ? { n: vouched.length as number | null, err: null as Error | null }
      : headLength(readUrl).then((n) => ({ n, err: null as Error | null }), (err: Error) => ({ n: null, err })),
    ctx.names.getClass(a.domain, upload.class),
    Promise.all(chained.map((devid) => {
      const at = ctx.devices.signedUrl(devid, a.fid, "GET");
      return at ? headLength(at).catch(() => null) : null;
    })),
  ]);
  if (head.err) {
    return discard(new MogileError("size_verify_error", `Expected: ${a.size ?? "?"}; actual: 0 (cantreach); path: ${url}; error: ${head.err.message}`));
  }
  const length = head.n;
  if (length === null) return discard(new MogileError("size_verify_error", `Expected: ${a.size ?? "?"}; actual: 0 (missing); path: ${url}`));
  // size 0 (or absent) means "not checked", as in MogileFS
  if (a.size !== undefined && a.size !== 0 && a.size !== length) return discard(new MogileError("size_mismatch", `Expected: ${a.size}; actual: ${length}; path: ${url}`));

  // Checksums. A class with a hashtype stores the digest its storage agent computed (free when
  // the PUT asked for it with x-mogile-hashtype, one read of the copy otherwise). A checksum the
  // client gave is always checked against the stored bytes: a mismatch links nothing.
  const hashtype = cls.hashtype && cls.hashtype !== "NONE" ? cls.hashtype : null;
  let stored: string | null = null;
  if (hashtype && vouched?.digest?.startsWith(`${hashtype}:`)) stored = vouched.digest;
  else if (hashtype) {
    // unavailable: link without one; the replicator stores the first copy's digest (fsck would too)
    stored = await digestOf(readUrl, hashtype).catch((err: Error) => {
      ctx.log.warn("digest unavailable at create_close", { fid: a.fid, url, err: err.message });
      return null;
    });
  }
  if (checksum) {
    const alg = checksum.slice(0, checksum.indexOf(":"));
    const actual = alg === hashtype && stored ? stored : await digestOf(readUrl, alg).catch((err: Error) => `unavailable (${err.message})`);
    if (normalizeChecksum(actual) !== normalizeChecksum(checksum)) {
      return discard(new MogileError("checksum_mismatch", `Expected: ${checksum}; actual: ${actual}; path: ${url}`));
    }
  }

  // every copy known to be whole: the receipt's, or the checked ones
  const devids = vouched ? [...new Set(vouched.devids)] : [a.devid, ...chained.filter((_, i) => chainedLengths[i] === length)];
  const policy = parsePolicy(cls.replpolicy);
  const copies = policyMin(policy, cls.mindevcount);
  if (copies > 1 && !meetsPolicy(ctx.devices, devids, length, policy, copies)) {
    // queue replication before linking, so a crash between the two cannot leave the file
    // under-replicated forever (the replicator waits a little for a fid it cannot see yet)
    await ctx.enqueueReplicate({ fid: a.fid, domain: a.domain, key: a.key, class: cls.class, length, devids, checksum: stored, reason: "new", ts: Date.now() }, `repl-${a.fid}`);
  } else policyMetAtClose();
  const old = await ctx.store.files.findOneAndUpdate(
    { _id: fileId(a.domain, a.key) },
    // fences of deletes belong to the previous version's fid, not to this one
    // metadata belongs to a version: a new one without any drops the old one's
    // why each copy is where it is goes in the same write (a new version starts its own record)
    { $set: { fid: a.fid, domain: a.domain, key: a.key, class: cls.class, length, devids, checksum: stored, createdAt: new Date(), placements: placementsOf(upload.placed, a.devid, devids), ...(a.meta ? { meta: a.meta } : {}) }, $unset: { deleting: "", fencedBy: "", ...(a.meta ? {} : { meta: "" }) } },
    { upsert: true, returnDocument: "before" },
  );
  if (old && old.fid !== a.fid) {
    // the key now names the new fid; the old version's bytes go (unless another key names it)
    await releaseFid(ctx, old.fid, old.devids, "replaced", { check: false });
  } else if (old && old.fid === a.fid) {
    // the same fid closed twice (its upload record came back after a crash): the copies already
    // recorded are still there; keep them recorded
    await ctx.store.files.updateOne({ _id: old._id, fid: a.fid }, { $addToSet: { devids: { $each: old.devids } } });
  }
  // A key that named nothing was cached nowhere (only found files are cached, and a deleted one's
  // eviction is on its way from its delete): no event to every query actor for a new key.
  if (old) ctx.fileChanged(a.domain, a.key, a.fid);
  else ctx.cache.evict(fileId(a.domain, a.key));
  // Durability beyond MogileFS: wait for k copies (class durable_copies, or wait_replicated; true
  // or 1 = all the policy wants). More than the policy makes would never come: capped at it.
  const asked = a.wait_replicated === 1 ? copies : a.wait_replicated ?? 0;
  const k = Math.min(Math.max(asked, cls.durable_copies ?? 1), copies);
  if (k > 1) await waitForCopies(ctx, a.domain, a.key, a.fid, k, policy);
  return { fid: a.fid, key: a.key, length };
}

/**
 * The placement record of a new file's copies: the destination the client wrote to won create_open's
 * draw; the other copies are the hops of its chain.
 */
function placementsOf(placed: Upload["placed"], devid: number, devids: number[]): Placements {
  const out: Placements = {};
  const dest = placed?.[placementKey(devid)];
  for (const d of devids) {
    const hop = dest?.chain?.[placementKey(d)];
    // an upload opened by a tracker that did not record why: say so rather than guess
    out[placementKey(d)] = d === devid
      ? added("create_open", dest?.why ?? "the device the upload was written to (create_open recorded no reason)")
      : added("chain", hop ?? `written by the PUT's chain from dev${devid} (create_open recorded no reason)`);
  }
  return out;
}

/** The devices a path's chain was to write (its signature was checked above), among the upload's. */
function chainOf(u: URL, devid: number, uploadDevids: number[]): number[] {
  const c = u.searchParams.get("c");
  if (!c || !u.searchParams.has("s")) return [];
  return (parseChain(c) ?? []).map((h) => h.devid).filter((d) => d !== devid && uploadDevids.includes(d));
}

/** The copies already satisfy the class policy (chain replication made them all). */
function meetsPolicy(view: DeviceView, devids: number[], length: number, policy: ReplPolicy, min: number): boolean {
  return decide({ policy, min, ...placement(view, devids, length) }).kind === "satisfied";
}
