// Walking files in ascending fid order in bounded batches, from a checkpoint.
// On MongoDB a range query on the fid index serves each batch. FerretDB v1 pushes down only
// equality filters (and never sorts with an index), so there a range query scans the whole
// collection: we probe fids one by one (an indexed equality each) and use a range query only to
// jump over long gaps.
import type { FileDoc, Store } from "../runtime/mongo.ts";
import { classNameOf } from "../runtime/domain/classes.ts";

export type WalkMode = "range" | "probe";
export interface Scope { domain: string | null; class: string | null }
export interface Batch { files: FileDoc[]; scannedTo: number }

export async function walkMode(store: Store, forced?: string): Promise<WalkMode> {
  if (forced === "range" || forced === "probe") return forced;
  const info = await store.db.admin().command({ buildInfo: 1 }).catch(() => ({}));
  return "ferretdbVersion" in info ? "probe" : "range";
}

const inScope = (f: FileDoc, s: Scope) => (s.domain === null || f.domain === s.domain) && (s.class === null || classNameOf(f.class) === s.class);

export class FidWalker {
  private emptyWindows = 0;
  constructor(private readonly store: Store, private readonly mode: WalkMode, private readonly probeConcurrency = 16) {}

  /** Files with fid in (after, end] in fid order, at most `limit`; `scannedTo` is the new checkpoint. */
  async next(after: number, end: number, limit: number, scope: Scope): Promise<Batch> {
    if (after >= end) return { files: [], scannedTo: end };
    if (this.mode === "range" || this.emptyWindows >= 5) {
      this.emptyWindows = 0;
      const range = { $gt: after, $lte: end };
      const filter: Record<string, unknown> = { fid: range };
      if (scope.domain !== null) filter.domain = scope.domain;
      if (scope.class !== null) filter.class = scope.class;
      if (this.mode === "probe") {
        // a long gap: jump to the next fid there is (one scan instead of thousands of probes)
        const [first] = await this.store.files.find({ fid: range }, { projection: { fid: 1 } }).sort({ fid: 1 }).limit(1).toArray();
        if (!first) return { files: [], scannedTo: end };
        return { files: [], scannedTo: first.fid - 1 };
      }
      const files = await this.store.files.find(filter).sort({ fid: 1 }).limit(limit).toArray();
      return { files, scannedTo: files.length < limit ? end : files[files.length - 1].fid };
    }
    const top = Math.min(end, after + limit);
    const fids = Array.from({ length: top - after }, (_, i) => after + 1 + i);
    const found: FileDoc[] = [];
    for (let i = 0; i < fids.length; i += this.probeConcurrency) {
      const docs = await Promise.all(fids.slice(i, i + this.probeConcurrency).map((fid) => this.store.files.find({ fid }).toArray()));
      for (const d of docs.flat()) if (inScope(d, scope)) found.push(d);
    }
    this.emptyWindows = found.length ? 0 : this.emptyWindows + 1;
    return { files: found.sort((a, b) => a.fid - b.fid), scannedTo: top };
  }
}
