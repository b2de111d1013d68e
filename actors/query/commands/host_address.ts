// One host per address: create_host and update_host answer `dup` for an IP and port another host
// has (MogileFS: its hosts table's unique key turns the insert into "Duplicate name/number used.").
//
// The atomic step is a claim document whose _id is the address: an _id is unique on MongoDB and on
// FerretDB alike, with no transaction. There is no unique index over the hosts themselves: storage
// agents register the address they are bound to (register_storage), and after a restart that
// shuffled ports one agent may take its new address before the host that had it has moved on.
// A claim counts only while its host still has that address, so claims left by a moved, deleted or
// self-registered host, or by a crash, never block anyone.
import { MogileError } from "../../../protocol/errors.ts";
import type { QueryContext } from "../context.ts";

interface HostAddressDoc { _id: string; hostid: number }

const COLLECTION = "host_addresses";
const addressId = (ip: string, port: number) => `${ip}:${port}`;
const addresses = (ctx: QueryContext) => ctx.store.collection<HostAddressDoc>(COLLECTION);

/** `dup` when a host other than `self` has this address now (covers hosts that never claimed one). */
export async function refuseTakenAddress(ctx: QueryContext, ip: string, port: number, self: number | null): Promise<void> {
  const other = await ctx.store.hosts.findOne({ ip, port, ...(self !== null ? { _id: { $ne: self } } : {}) });
  if (other) throw new MogileError("dup", `host ${other.hostname} has ${ip}:${port} already`);
}

/**
 * Claim `ip:port` for `hostid`, whose row already carries that address (so a rival that read the
 * claim sees its holder there). `dup` when another host holds it; the caller then undoes its write.
 */
export async function claimAddress(ctx: QueryContext, hostid: number, ip: string, port: number): Promise<void> {
  const _id = addressId(ip, port);
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await addresses(ctx).insertOne({ _id, hostid });
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const claim = await addresses(ctx).findOne({ _id });
    if (!claim) continue; // released meanwhile: insert again
    if (claim.hostid === hostid) return;
    const holder = await ctx.store.hosts.findOne({ _id: claim.hostid });
    if (holder && addressId(holder.ip, holder.port) === _id) throw new MogileError("dup", `host ${holder.hostname} has ${ip}:${port} already`);
    // a stale claim: take it over only from the holder read, so of two takers one wins
    const took = await addresses(ctx).updateOne({ _id, hostid: claim.hostid }, { $set: { hostid } });
    if (took.matchedCount === 1) return;
  }
  throw new MogileError("failure", `the claim on ${ip}:${port} kept changing; try again`);
}

/** Let go of an address this host no longer has (best effort: a stale claim blocks nobody). */
export async function releaseAddress(ctx: QueryContext, hostid: number, ip: string, port: number): Promise<void> {
  await addresses(ctx).deleteOne({ _id: addressId(ip, port), hostid }).catch((err) => {
    ctx.log.warn("could not release a host address claim", { ip, port, hostid, err });
  });
}
