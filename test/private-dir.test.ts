// Issue 11: as root, the embedded PostgreSQL runs as the `postgres` user, which cannot enter a
// data dir under a private parent (like /root, mode 0700). The metadata server must still start
// there, keep its data across restarts, and leave the operator's directory modes alone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MongoClient } from "mongodb";
import { startMetadata, type Metadata } from "../deploy/metadata.ts";

/** starts the embedded metadata server (never an outside MOGILE_MONGO_URL) */
async function embedded(dataDir: string, logDir: string): Promise<Metadata> {
  const saved = process.env.MOGILE_MONGO_URL;
  delete process.env.MOGILE_MONGO_URL;
  try {
    return await startMetadata({ dataDir, logDir });
  } finally {
    if (saved !== undefined) process.env.MOGILE_MONGO_URL = saved;
  }
}

async function stopAll(meta: Metadata | undefined): Promise<void> {
  for (const s of meta?.services ?? []) await s.stop();
}

test("embedded metadata server - data dir under a private (0700) parent, as root", async () => {
  if (process.getuid?.() !== 0) {
    console.log("  private-dir: not root, skipped (only root runs PostgreSQL as another user)");
    return;
  }
  const parent = mkdtempSync(path.join(os.tmpdir(), "mogile-private-"));
  chmodSync(parent, 0o700);
  const dataDir = path.join(parent, "var");
  const logDir = path.join(parent, "logs");
  let meta: Metadata | undefined;
  let pgDir: string | undefined;
  try {
    meta = await embedded(dataDir, logDir);
    const link = path.join(dataDir, "pg");
    if (existsSync(link) && lstatSync(link).isSymbolicLink()) pgDir = readlinkSync(link);
    if (meta.services.some((s) => s.name === "postgres")) {
      assert.ok(pgDir, `${link} is a symlink to PostgreSQL's data directory`);
      const hash = createHash("sha256").update(realpathSync(dataDir)).digest("hex").slice(0, 16);
      assert.is(pgDir, `/var/lib/mogile/pg-${hash}`);
      assert.ok(existsSync(path.join(pgDir!, "PG_VERSION")), "PostgreSQL was initialised there");
      assert.is(statSync(pgDir!).mode & 0o777, 0o700);
    }

    let c = new MongoClient(meta.url);
    try {
      await c.connect();
      await c.db("privatedir").collection("docs").insertOne({ _id: "k1" as never, v: 42 });
      const doc = await c.db("privatedir").collection("docs").findOne({ _id: "k1" as never });
      assert.is(doc?.v, 42);
    } finally {
      await c.close();
    }
    await stopAll(meta);
    meta = undefined;

    // the same data dir again: the document survived
    meta = await embedded(dataDir, logDir);
    c = new MongoClient(meta.url);
    try {
      await c.connect();
      const doc = await c.db("privatedir").collection("docs").findOne({ _id: "k1" as never });
      assert.is(doc?.v, 42, "the document persists across a restart");
    } finally {
      await c.close();
    }
    await stopAll(meta);
    meta = undefined;

    assert.is(statSync(parent).mode & 0o777, 0o700, "the private parent keeps mode 0700");
  } finally {
    await stopAll(meta).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
    if (pgDir && pgDir.startsWith("/var/lib/mogile/pg-")) rmSync(pgDir, { recursive: true, force: true });
  }
});

test.run();
