// Composing a file storage-to-storage: a PUT whose body is a list of sources (ranges of copies held
// by registered storage nodes) instead of the bytes. The receiving agent reads the sources in order
// and stores the concatenation as the fid (and down its chain), so an S3 CopyObject or a completed
// multipart upload never passes through the S3 actor's memory, and ends as one fid any classic
// client can read. Only the cluster may ask for it: the list is signed with the cluster key.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

/** on a PUT: the composed file's length; its body is the source list (JSON) */
export const COMPOSE_HEADER = "x-mogile-compose";
/** HMAC over devid, fid, the length and the body's SHA-256, under the cluster key */
export const COMPOSE_SIG_HEADER = "x-mogile-compose-sig";
/** the largest source list a PUT may carry */
export const MAX_COMPOSE_BODY = 4 << 20;

export const ComposeSource = z.object({
  /** storage URLs of the copies of one fid (signed for GET when protected), tried in turn */
  urls: z.array(z.string().min(1).max(4096)).min(1).max(10),
  /** the first byte to take, and how many */
  start: z.number().int().min(0),
  length: z.number().int().min(0),
});
export type ComposeSource = z.infer<typeof ComposeSource>;
export const ComposeList = z.array(ComposeSource).min(1).max(10_000);

const mac = (key: Buffer, devid: number, fid: number, length: number, body: Buffer) =>
  createHmac("sha256", key).update(`compose v1\n${devid}\n${fid}\n${length}\n${createHash("sha256").update(body).digest("hex")}`).digest();

/** The body and headers of a compose PUT for devid/fid. */
export function composeRequest(key: Buffer, devid: number, fid: number, sources: ComposeSource[]): { body: Buffer; headers: Record<string, string>; length: number } {
  const body = Buffer.from(JSON.stringify(sources));
  const length = sources.reduce((n, s) => n + s.length, 0);
  return { body, length, headers: { [COMPOSE_HEADER]: String(length), [COMPOSE_SIG_HEADER]: mac(key, devid, fid, length, body).toString("base64url") } };
}

/** The sources of a compose PUT, or null when its signature or list does not check out. */
export function verifyCompose(key: Buffer, devid: number, fid: number, length: number, body: Buffer, sig: string): ComposeSource[] | null {
  const want = mac(key, devid, fid, length, body);
  const got = Buffer.from(sig, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  let list: ComposeSource[];
  try { list = ComposeList.parse(JSON.parse(body.toString("utf8"))); } catch { return null; }
  return list.reduce((n, s) => n + s.length, 0) === length ? list : null;
}
