// Listing the fids stored on a device, in fid order and in pages (fsck's sweep for bytes no key
// names). Walks the MogileFS layout (/dev7/0/000/000/0000000123.fid) without reading file data.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { deviceDir, type MountTable } from "./mount.ts";

export const ListRequest = z.object({
  devid: z.number().int().positive(),
  /** only fids above this one */
  after: z.number().int().min(0).default(0),
  limit: z.number().int().positive().max(10_000).default(1_000),
});
export interface ListedFid { fid: number; size: number; /** ms since epoch */ mtime: number }
export interface ListReply { ok: boolean; error?: string; fids?: ListedFid[]; /** no fid above the last one listed */ done?: boolean }

const DIGITS = /^[0-9]+$/;
const sortedDirs = async (dir: string) => (await readdir(dir, { withFileTypes: true }).catch(() => []))
  .filter((e) => e.isDirectory() && DIGITS.test(e.name)).map((e) => e.name).sort();

/** Up to `limit` fids above `after` on a mounted device, smallest first. */
export async function listFids(root: string, mounts: MountTable, req: z.infer<typeof ListRequest>): Promise<ListReply> {
  const m = await mounts.check(req.devid);
  if (!m.mounted) return { ok: false, error: `device ${req.devid} is not mounted: ${m.reason}` };
  const base = deviceDir(root, req.devid);
  const out: ListedFid[] = [];
  for (const a of await sortedDirs(base)) {
    for (const b of await sortedDirs(path.join(base, a))) {
      for (const c of await sortedDirs(path.join(base, a, b))) {
        // every fid in a/b/c lies in [abc000, abc999]: skip whole directories below `after`
        if (Number(a + b + c) * 1000 + 999 <= req.after) continue;
        const dir = path.join(base, a, b, c);
        const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".fid"));
        const fids = names.map((n) => Number(n.slice(0, -4))).filter((f) => Number.isSafeInteger(f) && f > req.after).sort((x, y) => x - y);
        for (const fid of fids) {
          const name = `${String(fid).padStart(10, "0")}.fid`;
          const st = await stat(path.join(dir, name)).catch(() => null);
          if (!st?.isFile()) continue;
          out.push({ fid, size: st.size, mtime: st.mtimeMs });
          if (out.length >= req.limit) return { ok: true, fids: out, done: false };
        }
      }
    }
  }
  return { ok: true, fids: out, done: true };
}
