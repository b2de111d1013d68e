// Who may do what on a fid path: PUT and DELETE need a signed URL; GET and HEAD need one for
// protected files. A file is marked protected by its mode (other-read bit clear), set explicitly
// on every write (created with it; chmod only under a umask that would clear a bit) so the umask
// never decides it: one stat, which reads do anyway, tells.
import type { IncomingMessage } from "node:http";
import { verifyQuery, type Verdict } from "../runtime/urlsign.ts";

/** mode of files anyone with the path may read */
export const PUBLIC_MODE = 0o644;
/** mode of files whose reads need a signed URL (written through a PUT URL signed with p=1) */
export const PROTECTED_MODE = 0o640;
export const isProtected = (mode: number): boolean => (mode & 0o004) === 0;

/** the response header telling a pulling storage agent that the copy it reads is protected */
export const PROTECTED_HEADER = "x-mogile-protected";

/** The grant a request's query carries (null: none), checked for the request's method on devid/fid. */
export function grantOf(key: Buffer, req: IncomingMessage, devid: number, fid: number, q: URLSearchParams | null): Verdict | null {
  if (!q || !q.has("s")) return null;
  return verifyQuery(key, req.method ?? "", devid, fid, q);
}

/** The text of a 403, saying what the caller lacks. */
export function refusal(method: string, verdict: Verdict | null): string {
  if (verdict && !verdict.ok) return `forbidden: ${verdict.reason}`;
  switch (method) {
    case "PUT": return "forbidden: PUT needs a signed URL (create_open hands them out)";
    case "DELETE": return "forbidden: DELETE needs a URL signed with the cluster key";
    default: return "forbidden: this file needs a signed URL (get_paths hands them out)";
  }
}
