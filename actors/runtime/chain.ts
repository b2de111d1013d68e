// Chain replication (issue 9): a PUT URL from create_open names the devices the receiving storage
// agent passes the body on to, so one client PUT writes every copy the class wants, each fsynced
// before the answer. The first agent answers with a receipt signed with the cluster key (fid,
// devices holding a copy, length, digest), which create_close checks instead of calling back.
import { createHmac, timingSafeEqual } from "node:crypto";
import { fidPath } from "../../protocol/paths.ts";

/** the next device of a chain and the storage node (scheme://host:port) that holds it */
export interface Hop { devid: number; origin: string }

/** the most devices a chain may name (a class wanting more copies gets the rest from the replicator) */
export const MAX_CHAIN = 8;

const ORIGIN = /^https?:\/\/[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}$/;

export const formatChain = (hops: readonly Hop[]): string => hops.map((h) => `${h.devid}@${h.origin}`).join(",");

/** The hops of a chain field (signed, so trusted to be the cluster's own); null when malformed. */
export function parseChain(c: string): Hop[] | null {
  if (c === "") return [];
  const out: Hop[] = [];
  for (const item of c.split(",")) {
    const at = item.indexOf("@");
    const devid = Number(item.slice(0, at));
    const origin = item.slice(at + 1);
    if (at < 1 || !Number.isSafeInteger(devid) || devid <= 0 || !ORIGIN.test(origin)) return null;
    out.push({ devid, origin });
  }
  return out.length > MAX_CHAIN ? null : out;
}

export const hopUrl = (h: Hop, fid: number): string => h.origin + fidPath(h.devid, fid);

/** What the first storage agent of a PUT vouches for. */
export interface Receipt {
  /** devices holding the whole body, fsynced: the receiving one first */
  devids: number[];
  length: number;
  /** `ALG:hex` when the PUT asked for a digest (x-mogile-hashtype) */
  digest?: string;
}

/** the response header carrying a receipt */
export const RECEIPT_HEADER = "x-mogile-receipt";
/** the response header listing the devices that hold a copy (informational) */
export const COPIES_HEADER = "x-mogile-copies";

function receiptMac(key: Buffer, fid: number, devids: string, length: string, digest: string): Buffer {
  return createHmac("sha256", key).update(`r1\n${fid}\n${devids}\n${length}\n${digest}`).digest();
}

/** `devids;length;digest;mac` */
export function signReceipt(key: Buffer, fid: number, r: Receipt): string {
  const devids = r.devids.join(",");
  const length = String(r.length);
  const digest = r.digest ?? "";
  return `${devids};${length};${digest};${receiptMac(key, fid, devids, length, digest).toString("base64url")}`;
}

const DEVIDS = /^[1-9][0-9]{0,9}(,[1-9][0-9]{0,9}){0,15}$/;
const DIGITS = /^[0-9]{1,16}$/;

/** The receipt's content if it is one the cluster signed for this fid, else null. */
export function verifyReceipt(key: Buffer, fid: number, s: string): Receipt | null {
  const parts = s.split(";");
  if (parts.length !== 4) return null;
  const [devids, length, digest, sig] = parts;
  if (!DEVIDS.test(devids) || !DIGITS.test(length) || digest.length > 200) return null;
  const got = Buffer.from(sig, "base64url");
  const want = receiptMac(key, fid, devids, length, digest);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  return { devids: devids.split(",").map(Number), length: Number(length), ...(digest ? { digest } : {}) };
}
