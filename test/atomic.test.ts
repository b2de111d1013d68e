// The metadata store's single-document atomicity on the embedded default (FerretDB + the guard):
// concurrent updates, compare-and-set and conditional deletes through the store layer lose nothing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { MongoClient } from "mongodb";
import { startMetadata, type Metadata } from "../deploy/metadata.ts";
import { openStore, reconnectClient, type Store } from "../actors/runtime/mongo.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { tempDir } from "./helpers/until.ts";

const test = suite<{ dir: string; meta?: Metadata; store?: Store }>("atomic", { dir: tempDir("atomic") });
const WRITERS = 16;
const EACH = 50;

test.before(async (ctx) => {
  ctx.meta = await startMetadata({ dataDir: ctx.dir, logDir: path.join(ctx.dir, "logs") });
  ctx.store = await openStore(ctx.meta.url, "atomic", createLogger({ role: "test" }, "error"));
});

test.after(async (ctx) => {
  await ctx.store?.close().catch(() => {});
  for (const s of ctx.meta?.services ?? []) await s.stop().catch(() => {});
  rmSync(ctx.dir, { recursive: true, force: true });
});

interface Doc { _id: string; n?: number; v?: number; fid?: number; tag?: string }

test("the embedded metadata server is detected and guarded", async (ctx) => {
  assert.ok(ctx.store!.guarded, "FerretDB must be run with the atomicity guard");
});

test("the server monitor reports every few seconds, and a reconnected client keeps its collections working", async (ctx) => {
  // the store's watchdog reconnects a client whose monitor fell silent: it must not be silent normally
  let beats = 0;
  const onBeat = () => { beats++; };
  ctx.store!.client.on("serverHeartbeatSucceeded", onBeat);
  await new Promise((r) => setTimeout(r, 5_000));
  ctx.store!.client.off("serverHeartbeatSucceeded", onBeat);
  assert.ok(beats >= 1, `heartbeats in 5 s: ${beats}`);
  const c = ctx.store!.collection<Doc>("reconnect_test");
  await c.insertOne({ _id: "before", n: 1 });
  await reconnectClient(ctx.store!.client);
  assert.is((await c.findOne({ _id: "before" }))?.n, 1);
  await c.insertOne({ _id: "after", n: 2 });
  assert.is(await c.countDocuments({}), 2);
});

test(`${WRITERS} writers x ${EACH} $inc on one document lose no update`, async (ctx) => {
  const c = ctx.store!.collection<Doc>("counters_test");
  await c.insertOne({ _id: "x", n: 0 });
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    for (let i = 0; i < EACH; i++) await c.updateOne({ _id: "x" }, { $inc: { n: 1 } });
  }));
  const doc = await c.findOne({ _id: "x" });
  assert.is(doc?.n, WRITERS * EACH);
});

test("compare-and-set: every acknowledged win is one step of the final value", async (ctx) => {
  const c = ctx.store!.collection<Doc>("cas_test");
  await c.insertOne({ _id: "x", v: 0 });
  let wins = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = 0; i < EACH; i++) {
      const cur = await c.findOne({ _id: "x" });
      const res = await c.updateOne({ _id: "x", v: cur!.v }, { $set: { v: cur!.v! + 1 } });
      wins += res.modifiedCount;
    }
  }));
  const doc = await c.findOne({ _id: "x" });
  assert.ok(wins > 0);
  assert.is(doc?.v, wins, `final value ${doc?.v} after ${wins} acknowledged wins`);
});

test("a conditional delete never removes a document that no longer matches", async (ctx) => {
  const c = ctx.store!.collection<Doc>("cdel_test");
  // writers keep moving each document to a new fid; deleters delete only the fid they read.
  // A delete that acts on a newer fid than it matched would remove an acknowledged update.
  let mismatched = 0;
  for (let round = 0; round < 20; round++) {
    const id = `d${round}`;
    await c.insertOne({ _id: id, fid: 0 });
    const acked: number[] = [];
    let deleted: { fid: number } | null = null;
    await Promise.all([
      (async () => {
        for (let f = 1; f <= 15 && !deleted; f++) {
          const r = await c.updateOne({ _id: id }, { $set: { fid: f } });
          if (r.matchedCount) acked.push(f);
        }
      })(),
      (async () => {
        for (let i = 0; i < 15 && !deleted; i++) {
          const cur = await c.findOne({ _id: id });
          if (!cur) break;
          const r = await c.findOneAndDelete({ _id: id, fid: cur.fid });
          if (r) deleted = { fid: r.fid! };
        }
      })(),
    ]);
    const left = await c.findOne({ _id: id });
    // whatever happened: a document deleted at fid f had f as its last acknowledged value
    if (deleted && left === null && acked.length && acked[acked.length - 1] !== (deleted as { fid: number }).fid) mismatched++;
  }
  assert.is(mismatched, 0, `${mismatched} deletes removed a newer version than they matched`);
});

test("deleteMany and upserts keep counts exact under concurrency", async (ctx) => {
  const c = ctx.store!.collection<Doc>("upsert_test");
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 20; i++) await c.updateOne({ _id: `u${i % 4}` }, { $inc: { n: 1 } }, { upsert: true });
  }));
  const docs = await c.find({}).toArray();
  assert.is(docs.reduce((s, d) => s + (d.n ?? 0), 0), 160);
  const res = await c.deleteMany({ _id: { $in: ["u0", "u1"] } });
  assert.is(res.deletedCount, 2);
  assert.is(await c.countDocuments({}), 2);
});

test("array filters the fences rely on ($nin on arrays and on missing fields) behave as on MongoDB", async (ctx) => {
  const c = ctx.store!.collection<{ _id: string; a?: number[] }>("nin_test");
  await c.insertOne({ _id: "x", a: [1, 2] });
  await c.insertOne({ _id: "y" });
  assert.is((await c.updateOne({ _id: "x", a: { $nin: [3] } }, { $addToSet: { a: 3 } })).matchedCount, 1);
  assert.is((await c.updateOne({ _id: "x", a: { $nin: [2] } }, { $addToSet: { a: 4 } })).matchedCount, 0);
  assert.is((await c.updateOne({ _id: "y", a: { $nin: [2] } }, { $addToSet: { a: 2 } })).matchedCount, 1);
  assert.equal((await c.findOne({ _id: "x" }))!.a, [1, 2, 3]);
  await c.updateOne({ _id: "x" }, { $addToSet: { a: { $each: [3, 7] } } });
  assert.equal((await c.findOne({ _id: "x" }))!.a, [1, 2, 3, 7]);
});

test("the embedded PostgreSQL takes TCP connections only with the generated password", async (ctx) => {
  const url = new URL(ctx.meta!.services.find((x) => x.name === "ferretdb")!.env!.FERRETDB_POSTGRESQL_URL);
  const file = path.join(ctx.dir, "secrets", "postgres-password");
  assert.is(statSync(file).mode & 0o077, 0, "the password file is private");
  assert.is(readFileSync(file, "utf8").trim(), decodeURIComponent(url.password));
  const psql = (env: Record<string, string>) => spawnSync("psql", ["-h", "127.0.0.1", "-p", url.port, "-U", "postgres", "-d", "ferretdb", "-w", "-tAc", "SELECT 1"], { env: { ...process.env, PGPASSWORD: "", ...env }, encoding: "utf8" });
  const none = psql({});
  assert.is.not(none.status, 0, "no password: refused");
  assert.match(none.stderr, /password/);
  assert.is.not(psql({ PGPASSWORD: "wrong" }).status, 0, "a wrong password: refused");
  const ok = psql({ PGPASSWORD: decodeURIComponent(url.password) });
  assert.is(ok.status, 0, ok.stderr);
});

test("a write that bypasses the store layer is refused, not silently applied", async (ctx) => {
  const raw = new MongoClient(ctx.meta!.url);
  await raw.connect();
  try {
    const c = raw.db("atomic").collection<Doc>("counters_test");
    const before = (await c.findOne({ _id: "x" }))!.n;
    let failed = false;
    await c.updateOne({ _id: "x" }, { $inc: { n: 1 } }).catch(() => { failed = true; });
    assert.ok(failed, "an update without $inc _rev must fail");
    failed = false;
    await c.deleteOne({ _id: "x" }).catch(() => { failed = true; });
    assert.ok(failed, "a delete without the mark must fail");
    assert.is((await c.findOne({ _id: "x" }))!.n, before);
  } finally {
    await raw.close();
  }
});

test.run();
