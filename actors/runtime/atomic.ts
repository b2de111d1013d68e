// Single-document atomicity on every metadata server, the embedded FerretDB included.
//
// MongoDB applies an update to one document atomically. FerretDB v1 does not: it reads the
// matching documents, applies the operators in Go and writes each whole document back by _id,
// so two concurrent updates of one document lose one of them, and a conditional update or
// delete can act on a document that no longer matches its filter.
//
// The fix has two halves:
// - in PostgreSQL (deploy/metadata-guard.sql, installed by the launcher), a trigger on every
//   collection table refuses an UPDATE whose `_rev` is not the stored `_rev` + 1, an UPDATE of a
//   document marked `_gone`, and a DELETE of a document not marked `_gone`;
// - here, every write goes through a GuardedCollection: each update carries `$inc: {_rev: 1}`,
//   so the second of two racing writes fails in the trigger and is retried from the start
//   (re-reading and re-matching its filter, as a compare-and-set must). Every document carries a
//   random incarnation `_inc` from its insert, which the trigger also compares, so a write based
//   on a deleted document can never land on a new document with the same _id (ABA).
//   A delete marks its document `_gone` with such an update (the atomic step: the filter is
//   checked against the document as it is). Reads and writes here ignore marked documents; the
//   marked row stays a few seconds (a write that read the document just before the mark then
//   hits the row and fails in the trigger, instead of updating nothing and reporting a match),
//   then is removed; an insert of the same _id removes it at once.
// Callers cannot forget: the raw collections are not exposed, and a write that skips this layer
// is refused by the trigger instead of silently losing an update.
import type {
  Collection, Document, Filter, UpdateFilter, UpdateOptions, UpdateResult, FindOptions, CountDocumentsOptions,
  InsertOneOptions, OptionalUnlessRequiredId, FindOneAndUpdateOptions, WithId, DeleteResult, IndexSpecification,
  CreateIndexesOptions, DistinctOptions, AggregateOptions, BulkWriteOptions,
} from "mongodb";
import { randomBytes } from "node:crypto";

export const REV = "_rev";
export const GONE = "_gone";
export const GONE_AT = "_goneAt";
export const INC = "_inc";
/** how long a deleted document's row is kept (marked) before it is removed */
const TOMBSTONE_MS = 5_000;

/** the trigger's messages (FerretDB hands PostgreSQL's error text to the driver) */
const CONFLICT = /mogile_conflict|mogile_gone/;
const UNGUARDED = /mogile_unmarked_delete/;
const isDuplicate = (err: unknown) => (err as { code?: number }).code === 11000;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const incarnation = () => randomBytes(8).toString("hex");


/** How long one write may keep losing races before its caller sees the error. */
const MAX_ATTEMPTS = 200;
const MAX_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** the plain _id a filter names, if any (an upsert that collides can only collide on it) */
const idOf = (filter: object): unknown => {
  const id = (filter as { _id?: unknown })._id;
  return id !== undefined && (typeof id !== "object" || id === null) ? id : undefined;
};

/** `$inc: {_rev: 1}` (and, for an upsert, a new incarnation) merged into an update document. */
function guardUpdate<T>(update: UpdateFilter<T>, upsert: boolean): UpdateFilter<T> {
  if (Array.isArray(update)) throw new Error("pipeline updates are not supported by the metadata store");
  const u = { ...(update as Record<string, unknown>) };
  u.$inc = { ...((u.$inc as Record<string, unknown>) ?? {}), [REV]: 1 };
  if (upsert) u.$setOnInsert = { ...((u.$setOnInsert as Record<string, unknown>) ?? {}), [INC]: incarnation() };
  return u as UpdateFilter<T>;
}

export class GuardedCollection<T extends Document> {
  private sweep: NodeJS.Timeout | null = null;

  /**
   * @param guarded true on the embedded FerretDB (deletes mark first; marked documents are
   *   invisible); on MongoDB a delete is atomic already and `_rev` is merely bumped
   */
  constructor(private readonly raw: Collection<T>, readonly guarded: boolean) {}

  get collectionName(): string { return this.raw.collectionName; }

  /** the filter, not matching documents marked deleted */
  private live(filter: Filter<T>): Filter<T> {
    if (!this.guarded || GONE in (filter as object)) return filter;
    return { ...filter, [GONE]: { $exists: false } } as Filter<T>;
  }

  /**
   * Run one write, again from the start while it loses a race (the trigger refused it, or a
   * concurrent upsert inserted the same _id first). Each try re-matches its filter.
   */
  private async retrying<R>(what: string, upsert: boolean, fn: () => Promise<R>, id?: unknown): Promise<R> {
    const t0 = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const msg = message(err);
        if (UNGUARDED.test(msg)) throw new Error(`${what} on ${this.raw.collectionName} bypassed the store layer: ${msg}`);
        const duplicate = upsert && isDuplicate(err);
        if ((!CONFLICT.test(msg) && !duplicate) || attempt >= MAX_ATTEMPTS || Date.now() - t0 > MAX_MS) throw err;
        // an upsert blocked by a deleted document's row: remove deleted rows now
        // (a collision on another unique field than _id: any deleted row may be the one)
        if (duplicate && (id === undefined || (await this.removeMarked(0, id)) === 0)) await this.removeMarked(0);
        // jittered, growing a little: racing writers spread out instead of colliding again
        await sleep(Math.random() * Math.min(50, 1 + attempt * 2));
      }
    }
  }

  /**
   * Remove the rows of documents deleted more than `ageMs` ago (only the one with `id`, when
   * given: other deleted rows keep their few seconds). Two removers racing with an insert of the
   * same _id can make FerretDB's delete-by-_id hit the new live row, which the guard refuses:
   * then someone else has removed it already.
   */
  private async removeMarked(ageMs: number, id?: unknown): Promise<number> {
    if (!this.guarded) return 0;
    // `_gone: true` is an indexed equality (FerretDB pushes it down); the age is checked after
    const filter = { ...(id !== undefined ? { _id: id } : {}), [GONE]: true, [GONE_AT]: { $lte: Date.now() - ageMs } };
    try {
      return (await this.raw.deleteMany(filter as unknown as Filter<T>)).deletedCount;
    } catch (err) {
      if (UNGUARDED.test(message(err))) return 0;
      throw err;
    }
  }

  private scheduleSweep(): void {
    if (this.sweep) return;
    this.sweep = setTimeout(() => {
      this.sweep = null;
      this.removeMarked(TOMBSTONE_MS).catch(() => { /* the next delete, insert or store open removes them */ });
    }, TOMBSTONE_MS + 100);
    this.sweep.unref();
  }

  // ---- reads ----
  findOne(filter: Filter<T>, options?: FindOptions): Promise<WithId<T> | null> {
    return options ? this.raw.findOne(this.live(filter), options) : this.raw.findOne(this.live(filter));
  }
  find(filter: Filter<T> = {}, options?: FindOptions) { return this.raw.find(this.live(filter), options); }
  countDocuments(filter: Filter<T> = {}, options?: CountDocumentsOptions) { return this.raw.countDocuments(this.live(filter), options); }
  distinct(key: string, filter: Filter<T> = {}, options?: DistinctOptions) { return this.raw.distinct(key, this.live(filter), options ?? {}); }
  aggregate<R extends Document = Document>(pipeline: Document[], options?: AggregateOptions) {
    return this.raw.aggregate<R>(this.guarded ? [{ $match: { [GONE]: { $exists: false } } }, ...pipeline] : pipeline, options);
  }
  createIndex(spec: IndexSpecification, options?: CreateIndexesOptions) { return this.raw.createIndex(spec, options); }

  // ---- writes ----
  /** many new documents in one call (bulk loads): each gets its incarnation; no retry on duplicates */
  insertMany(docs: OptionalUnlessRequiredId<T>[], options?: BulkWriteOptions) {
    return this.raw.insertMany(docs.map((d) => ({ ...d, [INC]: incarnation() }) as OptionalUnlessRequiredId<T>), options);
  }
  async insertOne(doc: OptionalUnlessRequiredId<T>, options?: InsertOneOptions) {
    const withInc = { ...doc, [INC]: incarnation() } as OptionalUnlessRequiredId<T>;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.raw.insertOne(withInc, options);
      } catch (err) {
        // the _id (or another unique field) may be held by a deleted document's row: remove such
        // rows and try again, unless a live document holds it (a sweep elsewhere may have removed
        // the row already, so "removed none" does not mean a live duplicate)
        if (attempt >= 4 || !isDuplicate(err)) throw err;
        const id = (doc as { _id?: unknown })._id;
        const removed = (id !== undefined ? await this.removeMarked(0, id) : 0) || (await this.removeMarked(0));
        if (removed === 0 && id !== undefined && (await this.raw.findOne(this.live({ _id: id } as Filter<T>)))) throw err;
        continue;
      }
    }
  }

  updateOne(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions = {}): Promise<UpdateResult<T>> {
    return this.retrying("updateOne", !!options.upsert, () => this.raw.updateOne(this.live(filter), guardUpdate(update, !!options.upsert), options), idOf(filter));
  }

  /**
   * Every matching document, atomically each (not all together). On FerretDB a conflict on one
   * document may leave the ones before it updated, and the statement is run again: use idempotent
   * updates ($set, $pull, $addToSet), never $inc.
   */
  updateMany(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions = {}): Promise<UpdateResult<T>> {
    return this.retrying("updateMany", !!options.upsert, () => this.raw.updateMany(this.live(filter), guardUpdate(update, !!options.upsert), options), idOf(filter));
  }

  findOneAndUpdate(filter: Filter<T>, update: UpdateFilter<T>, options: FindOneAndUpdateOptions = {}): Promise<WithId<T> | null> {
    return this.retrying("findOneAndUpdate", !!options.upsert, () =>
      this.raw.findOneAndUpdate(this.live(filter), guardUpdate(update, !!options.upsert), { ...options, includeResultMetadata: false }), idOf(filter));
  }

  /** Delete the first document matching `filter` (atomically: it matched when it was taken), returning it. */
  async findOneAndDelete(filter: Filter<T>): Promise<WithId<T> | null> {
    if (!this.guarded) return this.raw.findOneAndDelete(filter);
    // the mark is the atomic step; the row goes a little later (see the top of this file)
    const doc = await this.findOneAndUpdate(filter, { $set: { [GONE]: true, [GONE_AT]: Date.now() } } as unknown as UpdateFilter<T>, { returnDocument: "before" });
    if (doc) this.scheduleSweep();
    return doc;
  }

  async deleteOne(filter: Filter<T>): Promise<DeleteResult> {
    if (!this.guarded) return this.raw.deleteOne(filter);
    const doc = await this.findOneAndDelete(filter);
    return { acknowledged: true, deletedCount: doc ? 1 : 0 };
  }

  async deleteMany(filter: Filter<T>): Promise<DeleteResult> {
    if (!this.guarded) return this.raw.deleteMany(filter);
    const marked = await this.updateMany(filter, { $set: { [GONE]: true, [GONE_AT]: Date.now() } } as unknown as UpdateFilter<T>);
    if (marked.modifiedCount) this.scheduleSweep();
    return { acknowledged: true, deletedCount: marked.modifiedCount };
  }

  /** Remove rows of documents deleted a while ago (the store calls this at start: a process that died left them). */
  sweepDeleted(): Promise<number> { return this.removeMarked(TOMBSTONE_MS); }
}
