// The usage mogstored publishes per device at /dev<N>/usage, read by `mogadm check` and MogileFS's
// monitor: `key: value` lines, keys sorted, sizes in KiB as `df -k` gives them. mogstored rewrites
// a file every 10 s; here it is computed when asked (one statfs), so nothing is written into the
// device directory and the answer is never stale.
import { readFile, realpath, statfs } from "node:fs/promises";
import path from "node:path";
import { deviceDir } from "./mount.ts";

export interface DeviceUsage {
  /** KiB free for unprivileged writers (df's "Available") */
  available: number;
  /** the block device holding the directory (df's "Filesystem"), e.g. /dev/sdb1 */
  device: string;
  /** the device directory (mogstored: the mount point when it is the directory, else the directory) */
  disk: string;
  /** unix seconds */
  time: number;
  /** KiB: used + available, so space reserved for root is left out, as mogstored reports it */
  total: number;
  /** df's "Use%": used / (used + available), rounded up */
  use: string;
  /** KiB in use on the filesystem (df's "Used") */
  used: number;
}

/** The usage of one device's filesystem now. */
export async function deviceUsage(root: string, devid: number, now = Date.now()): Promise<DeviceUsage> {
  const disk = deviceDir(root, devid);
  const st = await statfs(disk);
  const kib = (blocks: number) => Math.floor((blocks * st.bsize) / 1024);
  const used = kib(st.blocks - st.bfree);
  const available = kib(st.bavail);
  const total = used + available;
  return {
    available, device: await mountSource(disk), disk, time: Math.floor(now / 1000), total,
    use: `${total > 0 ? Math.ceil((used * 100) / total) : 0}%`, used,
  };
}

/** The text of /dev<N>/usage: one `key: value` line per field, keys sorted (mogstored's format). */
export function formatUsage(u: DeviceUsage): string {
  return Object.entries(u).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}: ${v}\n`).join("");
}

/** mount sources by directory, re-read at most once a minute (mounts change rarely) */
const sources = new Map<string, { source: string; at: number }>();
const SOURCE_TTL_MS = 60_000;

/**
 * The source of the mount holding `dir` (the longest mount point above its real path, from
 * /proc/self/mountinfo): what df prints as "Filesystem". "unknown" where that cannot be read; the
 * tools only need a value.
 */
export async function mountSource(dir: string): Promise<string> {
  const known = sources.get(dir);
  if (known && Date.now() - known.at < SOURCE_TTL_MS) return known.source;
  let source = "unknown";
  try {
    const real = await realpath(dir);
    let best = -1;
    for (const line of (await readFile("/proc/self/mountinfo", "utf8")).split("\n")) {
      // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
      const sep = line.indexOf(" - ");
      if (sep < 0) continue;
      const mountPoint = unescapeMount(line.slice(0, sep).split(" ")[4] ?? "");
      const src = line.slice(sep + 3).split(" ")[1];
      const under = mountPoint === "/" || real === mountPoint || real.startsWith(mountPoint.endsWith(path.sep) ? mountPoint : mountPoint + path.sep);
      if (src && under && mountPoint.length > best) { best = mountPoint.length; source = unescapeMount(src); }
    }
  } catch { /* not Linux, or no /proc: keep "unknown" */ }
  sources.set(dir, { source, at: Date.now() });
  return source;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes (\040 …) */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
