// create_open: allocate a fid and pick destination devices (distinct hosts, weighted by free space);
// hands out PUT URLs signed for the upload's lifetime and size.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { MAX_FID, MAX_FID_JUMP } from "../../runtime/counters.ts";
import { signUrl } from "../../runtime/urlsign.ts";
import { formatChain, MAX_CHAIN, type Hop } from "../../runtime/chain.ts";
import { decide, parsePolicy, placement, placed, policyMin, type Placed, type ReplPolicy } from "../../runtime/domain/policy.ts";
import { drawText, lackOf, placementKey, policyText, zonesOf } from "../../runtime/domain/placements.ts";
import type { Upload } from "../../runtime/uploads.ts";

export async function createOpen(ctx: QueryContext, a: Parsed<"create_open">): Promise<Reply<"create_open">> {
  const domain = await ctx.names.domain(a.domain);
  // size 0 is "not said" (as at create_close): the cluster's cap then bounds the PUT
  if (a.size && a.size > ctx.urls.maxFileBytes) throw new MogileError("bogus_args", `size ${a.size} is above the largest file this cluster takes (${ctx.urls.maxFileBytes} bytes)`);
  const cls = await ctx.names.getClass(a.domain, a.class);
  // every copy the class wants is written in the PUT (chain replication): each destination the
  // client is told of gets a chain of further devices, picked by the class policy as the
  // replicator would pick them
  const policy = parsePolicy(cls.replpolicy);
  const copies = cls.async_copies ? 1 : policyMin(policy, cls.mindevcount);
  const told = ctx.devices.choose(a.multi_dest ? 3 : 1, { size: a.size, distinctHosts: policy.name !== "MultipleDevices" });
  const candidates = copies > 1 ? placement(ctx.devices, [], a.size ?? 0) : null;
  // why each hop of each destination's chain was picked (a PUT to one destination writes its chain only)
  const chainWhy = told.map(() => new Map<number, string>());
  const chains = told.map((devid, i) => (candidates ? chainAfter(ctx, devid, policy, copies, a.size ?? 0, candidates, chainWhy[i]) : []));
  const devids = [...new Set([...told, ...chains.flat()])];
  if (devids.length === 0) throw new MogileError("no_devices", "no writeable device has room for this file");
  const why = placedWhy(ctx, told, chainWhy, a.size ?? 0, policy.name !== "MultipleDevices");
  const fid = a.fid ? await claimFid(ctx, a.fid) : await ctx.fids.allocate();
  // each URL may store at most the announced size, once, until the upload expires; a file of a
  // signed_get domain is stored protected (its reads then need signed URLs)
  const grant = { method: "PUT" as const, fid, expires: Math.floor(Date.now() / 1000) + ctx.uploadTtlSec, maxLength: a.size || ctx.urls.maxFileBytes, protect: domain.signed_get === true };
  const hop = (devid: number): Hop => ({ devid, origin: ctx.devices.baseUrl(devid)! });
  const dests = told.map((devid, i) => ({
    devid,
    path: signUrl(ctx.urls.key, ctx.devices.url(devid, fid)!, { ...grant, devid, ...(chains[i].length ? { chain: formatChain(chains[i].map(hop)) } : {}) }),
  }));
  // the upload record lets create_close validate, and the reaper remove bytes never closed
  await ctx.uploads.record({
    fid, domain: a.domain, key: a.key, class: cls.class, devids,
    expiresAt: Date.now() + ctx.uploadTtlSec * 1000,
    checksum: a.checksum, checksumverify: a.checksumverify, placed: why,
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

/** The devices a PUT to `first` passes the body on to, so that together they meet the policy. */
function chainAfter(ctx: QueryContext, first: number, policy: ReplPolicy, copies: number, size: number, { writable, live }: { writable: Placed[]; live: Placed[] }, why: Map<number, string>): number[] {
  const chain = [first];
  while (chain.length < Math.min(copies, MAX_CHAIN + 1)) {
    const on = chain.map((d) => placed(ctx.devices, d)).filter((p): p is Placed => p !== null);
    const answer = decide({ policy, min: copies, on, writable, live });
    if (answer.kind !== "copy") break;
    const [next] = ctx.devices.choose(1, { size, only: new Set(answer.devids), distinctHosts: false });
    if (next === undefined) break;
    const lack = lackOf(policy, on, copies, zonesOf(on, live));
    why.set(next, `picked at create_open for the PUT's chain after dev${chain[chain.length - 1]}: ${policyText(policy, copies)} had ${lack || "too few copies"}` +
      (answer.desperate ? " (no device on a new host or zone could take it)" : ""));
    chain.push(next);
  }
  return chain.slice(1);
}

/**
 * Why each device was picked, kept in the upload record (the same write) for create_close to
 * record with the copies: per destination handed out, the draw it won (later draws leave out the
 * hosts already drawn) and why each hop of its chain was picked. The client PUTs to one of them,
 * whose chain writes the other copies.
 */
function placedWhy(ctx: QueryContext, told: number[], chainWhy: Map<number, string>[], size: number, distinctHosts: boolean): NonNullable<Upload["placed"]> {
  const out: NonNullable<Upload["placed"]> = {};
  const writable = [...ctx.devices.devices.keys()].filter((d) => ctx.devices.writable(d, size));
  const drawnHosts = new Set<number>();
  told.forEach((devid, i) => {
    const pool = writable.filter((d) => !told.slice(0, i).includes(d) && !(distinctHosts && drawnHosts.has(ctx.devices.devices.get(d)!.hostid)));
    const chain = Object.fromEntries([...chainWhy[i]].map(([hop, why]) => [placementKey(hop), why]));
    out[placementKey(devid)] = { why: drawText(ctx.devices, pool, devid), ...(chainWhy[i].size ? { chain } : {}) };
    drawnHosts.add(ctx.devices.devices.get(devid)?.hostid ?? 0);
  });
  return out;
}
