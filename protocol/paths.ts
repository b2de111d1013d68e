// MogileFS storage layout: fid 123 on device 7 lives at /dev7/0/000/000/0000000123.fid.

/** The URI of a fid on a device, exactly as MogileFS lays it out. */
export function fidPath(devid: number, fid: number): string {
  const padded = String(fid).padStart(10, "0");
  return `/dev${devid}/${padded[0]}/${padded.slice(1, 4)}/${padded.slice(4, 7)}/${padded}.fid`;
}

export function fidUrl(base: string, devid: number, fid: number): string {
  return base + fidPath(devid, fid);
}

const FID_PATH = /^\/dev([1-9][0-9]{0,9})\/([0-9])\/([0-9]{3})\/([0-9]{3})\/([0-9]{10,20})\.fid$/;

/** Parses a fid URI; null unless it is canonical (so `..`, `//` and strays never match). */
export function parseFidPath(uri: string): { devid: number; fid: number } | null {
  const m = FID_PATH.exec(uri);
  if (!m) return null;
  const devid = Number(m[1]);
  const fid = Number(m[5]);
  if (!Number.isSafeInteger(fid) || fidPath(devid, fid) !== uri) return null;
  return { devid, fid };
}
