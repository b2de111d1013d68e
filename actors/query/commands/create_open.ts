// create_open: allocate a fid and pick destination devices (distinct hosts, weighted by free space);
// hands out PUT URLs signed for the upload's lifetime and size.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { MAX_FID, MAX_FID_JUMP } from "../../runtime/counters.ts";
import { signUrl } from "../../runtime/urlsign.ts";

export async function createOpen(ctx: QueryContext, a: Parsed<"create_open">): Promise<Reply<"create_open">> {
  const domain = await ctx.names.domain(a.domain);
  // size 0 is "not said" (as at create_close): the cluster's cap then bounds the PUT
  if (a.size && a.size > ctx.urls.maxFileBytes) throw new MogileError("bogus_args", `size ${a.size} is above the largest file this cluster takes (${ctx.urls.maxFileBytes} bytes)`);
  const cls = await ctx.names.getClass(a.domain, a.class);
  const devids = ctx.devices.choose(a.multi_dest ? 3 : 1, { size: a.size });
  if (devids.length === 0) throw new MogileError("no_devices", "no writeable device has room for this file");
  const fid = a.fid ? await claimFid(ctx, a.fid) : await ctx.fids.allocate();
  // each URL may store at most the announced size, once, until the upload expires; a file of a
  // signed_get domain is stored protected (its reads then need signed URLs)
  const grant = { method: "PUT" as const, fid, expires: Math.floor(Date.now() / 1000) + ctx.uploadTtlSec, maxLength: a.size || ctx.urls.maxFileBytes, protect: domain.signed_get === true };
  const dests = devids.map((devid) => ({ devid, path: signUrl(ctx.urls.key, ctx.devices.url(devid, fid)!, { ...grant, devid }) }));
  // the upload record lets create_close validate, and the reaper remove bytes never closed
  await ctx.uploads.record({
    fid, domain: a.domain, key: a.key, class: cls.class, devids,
    expiresAt: Date.now() + ctx.uploadTtlSec * 1000,
    checksum: a.checksum, checksumverify: a.checksumverify,
  });
  return { fid, devid: dests[0].devid, path: dests[0].path, dev_count: dests.length, dests };
}

/**
 * An explicit fid is usable only above every fid ever handed out (blocks already given to query
 * actors included): moving the counter past it is a compare-and-set, so two callers never both get it.
 */
async function claimFid(ctx: QueryContext, fid: number): Promise<number> {
  const got = await ctx.fids.claim(fid);
  if (got === null) {
    if (fid > MAX_FID) throw new MogileError("bogus_args", `fid ${fid} is above the largest fid (${MAX_FID})`);
    throw new MogileError("fid_in_use", `fid ${fid} is or may be in use (or more than ${MAX_FID_JUMP} above the fids handed out so far)`);
  }
  return got;
}
