// Helpers shared by command handlers.
import { MogileError, type ErrorCode } from "../../../protocol/errors.ts";
import { subjects } from "../../../protocol/subjects.ts";
import type { QueryContext } from "../context.ts";
import type { FileDoc, HostDoc } from "../../runtime/mongo.ts";
import { fileId } from "../../runtime/mongo.ts";

/** Duplicate-key errors from MongoDB (code 11000) become the given MogileFS code. */
export async function unlessDuplicate<T>(p: Promise<T>, code: ErrorCode, message?: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) throw new MogileError(code, message);
    throw err;
  }
}

/** Host or device rows changed: every actor's device view reloads. */
export function devicesChanged(ctx: QueryContext): void {
  ctx.nc.publish(subjects.devicesChanged, "{}");
}

/** Domain or class rows changed: every query actor drops its name cache. */
export function namesChanged(ctx: QueryContext): void {
  ctx.names.forget();
  ctx.nc.publish(subjects.namesChanged, "{}");
}

export async function requireDomainRow(ctx: QueryContext, domain: string): Promise<void> {
  if (!(await ctx.store.domains.findOne({ _id: domain }))) throw new MogileError("domain_not_found", `domain ${domain} not found`);
}

export async function hostByName(ctx: QueryContext, host: string, code: ErrorCode = "host_not_found"): Promise<HostDoc> {
  const h = await ctx.store.hosts.findOne({ hostname: host });
  if (!h) throw new MogileError(code, `host ${host} not found`);
  return h;
}

/** The file row of a key, or unknown_key (unreg_domain when the domain itself is unknown). */
export async function fileByKey(ctx: QueryContext, domain: string, key: string): Promise<FileDoc> {
  const doc = await ctx.store.files.findOne({ _id: fileId(domain, key) });
  if (!doc) {
    await ctx.names.requireDomain(domain);
    throw new MogileError("unknown_key", `unknown key ${key} in domain ${domain}`);
  }
  return doc;
}

/**
 * Queue a fid's bytes for deletion unless another key still names it (a rename interrupted
 * between its insert and its delete leaves the fid under two keys for a moment). The deleter
 * checks that again when the job runs, and is what keeps such bytes: `check: false` (a delete,
 * an overwrite: the key that named the fid is gone, so another naming it is rare) saves a lookup
 * on the hot path; a rename, whose fid is normally still named, checks first.
 */
export async function releaseFid(ctx: QueryContext, fid: number, devids: number[], reason: string, o: { check?: boolean } = {}): Promise<void> {
  if (o.check !== false && await ctx.store.files.findOne({ fid }, { projection: { _id: 1 } })) return;
  await ctx.enqueueDelete({ fid, devids, reason });
}
