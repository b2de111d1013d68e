// create_open: allocate a fid and pick destination devices (distinct hosts, weighted by free space).
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { MAX_FID, MAX_FID_JUMP } from "../../runtime/counters.ts";

export async function createOpen(ctx: QueryContext, a: Parsed<"create_open">): Promise<Reply<"create_open">> {
  await ctx.names.requireDomain(a.domain);
  const cls = await ctx.names.getClass(a.domain, a.class);
  const devids = ctx.devices.choose(a.multi_dest ? 3 : 1, { size: a.size });
  if (devids.length === 0) throw new MogileError("no_devices", "no writeable device has room for this file");
  const fid = a.fid ? await claimFid(ctx, a.fid) : await ctx.fids.allocate();
  const dests = devids.map((devid) => ({ devid, path: ctx.devices.url(devid, fid)! }));
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
