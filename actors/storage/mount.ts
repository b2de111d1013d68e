// Mount check (Swift's mount_check): a device is used only while its directory holds the marker
// written when the device was added, so the empty mount point of an unmounted disk is never filled.
import { mkdir, open, readFile, rename, stat } from "node:fs/promises";
import path from "node:path";

/** the marker file at the top of every device directory: JSON `{ devid, host?, created }` */
export const MOUNT_MARKER = ".mogile-device";

export interface MountState { mounted: boolean; /** why not, when not */ reason?: string }

export const deviceDir = (root: string, devid: number) => path.join(root, `dev${devid}`);

/** Mounted only when `<root>/dev<devid>/.mogile-device` exists and names this devid. */
export async function checkMount(root: string, devid: number): Promise<MountState> {
  const dir = deviceDir(root, devid);
  let text: string;
  try {
    text = await readFile(path.join(dir, MOUNT_MARKER), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") return { mounted: false, reason: `marker unreadable: ${code ?? (err as Error).message}` };
    const st = await stat(dir).catch(() => null);
    if (!st) return { mounted: false, reason: `${dir} is missing` };
    if (!st.isDirectory()) return { mounted: false, reason: `${dir} is not a directory` };
    return { mounted: false, reason: `${dir} has no ${MOUNT_MARKER} marker (not mounted, or never added)` };
  }
  const devidIn = markerDevid(text);
  if (devidIn !== devid) return { mounted: false, reason: `${dir} holds the marker of ${devidIn ? `dev${devidIn}` : "no device"}` };
  return { mounted: true };
}

function markerDevid(text: string): number | null {
  try {
    const v = JSON.parse(text) as { devid?: unknown };
    return typeof v.devid === "number" && Number.isInteger(v.devid) ? v.devid : null;
  } catch {
    return null;
  }
}

/**
 * Add a device on disk: write its marker, durably (temp file, fsync, rename, fsync the directory).
 * Only the launcher (for devices it provisions) and `mogile device init` call this, never the
 * storage agent: an agent that created what it found missing would fill an unmounted disk's mount
 * point. With `create`, a missing directory is made first (the launcher's own data dir); without,
 * the directory must exist (it is the operator's mount point). Returns false when the marker was
 * already there; throws when it names another device.
 */
export async function initDevice(root: string, devid: number, opts: { create?: boolean; host?: string } = {}): Promise<boolean> {
  const dir = deviceDir(root, devid);
  if (opts.create) await mkdir(dir, { recursive: true });
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new Error(`${dir} is not a directory: mount the device there first`);
  const existing = await readFile(path.join(dir, MOUNT_MARKER), "utf8").catch(() => null);
  if (existing !== null) {
    const other = markerDevid(existing);
    if (other === devid) return false;
    throw new Error(`${dir} already holds the marker of ${other ? `dev${other}` : "an unknown device"}`);
  }
  const body = JSON.stringify({ devid, ...(opts.host ? { host: opts.host } : {}), created: new Date().toISOString() }) + "\n";
  const tmp = path.join(dir, `${MOUNT_MARKER}.tmp-${process.pid}`);
  const fh = await open(tmp, "w");
  try { await fh.writeFile(body); await fh.sync(); } finally { await fh.close(); }
  await rename(tmp, path.join(dir, MOUNT_MARKER));
  const dh = await open(dir, "r");
  try { await dh.sync(); } finally { await dh.close(); }
  return true;
}

/**
 * Each device's mount state, re-read at most once per `ttlMs` (a request after that waits for the
 * fresh read), so every request is checked without a file read per request.
 */
export class MountTable {
  private states = new Map<number, { state: MountState; at: number }>();
  private reading = new Map<number, Promise<MountState>>();

  constructor(
    readonly root: string,
    readonly devids: ReadonlySet<number>,
    private readonly ttlMs = 1_000,
    /** called when a device's state flips (and on the first read) */
    private readonly onChange: (devid: number, state: MountState) => void = () => {},
  ) {}

  async check(devid: number): Promise<MountState> {
    const known = this.states.get(devid);
    if (known && Date.now() - known.at < this.ttlMs) return known.state;
    let p = this.reading.get(devid);
    if (!p) {
      p = checkMount(this.root, devid).then((state) => {
        const before = this.states.get(devid)?.state;
        this.states.set(devid, { state, at: Date.now() });
        if (before?.mounted !== state.mounted || before?.reason !== state.reason) this.onChange(devid, state);
        return state;
      }).finally(() => this.reading.delete(devid));
      this.reading.set(devid, p);
    }
    return p;
  }

  /** forget the cached state, so the next check reads the disk (after an I/O error, say) */
  invalidate(devid: number): void { this.states.delete(devid); }
}
