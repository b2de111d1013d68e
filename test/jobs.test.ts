// Integration: background jobs — the deleter retries while a device is down; the replicator
// records what it cannot do where an operator can list it.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import path from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { fidPath } from "../protocol/paths.ts";
import { subjects } from "../protocol/subjects.ts";
import { stopProcess } from "../deploy/services.ts";
import { openStore, fileId } from "../actors/runtime/mongo.ts";
import { createLogger, type Logger } from "../actors/runtime/log.ts";
import { MetadataPause, metadataUnavailable } from "../actors/runtime/jobs.ts";
import { stopFerret } from "./helpers/faults.ts";
import { readFileSync } from "node:fs";

const unit = suite("jobs: metadata pause");

unit("the metadata server's unavailability is told from a job's own failure", () => {
  for (const r of [
    "Timed out while checking out a connection from connection pool",
    "MongoServerSelectionError: connection 1 to 10.232.104.1:27017 closed",
    "Server selection timed out after 5000 ms",
    "connect ECONNREFUSED 127.0.0.1:27017",
    "connection 3 to 127.0.0.1:40123 timed out",
  ]) assert.ok(metadataUnavailable(r), r);
  for (const r of ["fid 12: no device can take a copy", "404 not found", "source copy is 10 bytes, not 20"]) assert.not.ok(metadataUnavailable(r), r);
});

unit("a pause doubles from 1 s to 16 s while jobs keep failing, spreads their resumption, and ends on a success", () => {
  let now = 0;
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`) } as unknown as Logger;
  const p = new MetadataPause(logger, "replicate", () => now);
  assert.is(p.waitMs(), 0);
  p.trip("Timed out while checking out a connection from connection pool");
  assert.ok(p.paused);
  const w = p.waitMs();
  assert.ok(w >= 1_000 && w < 2_000, `first pause ${w}`);
  p.trip("again, same burst");
  assert.ok(p.waitMs() < 2_000, "one burst trips once");
  const pauses: number[] = [];
  for (let i = 0; i < 6; i++) { now += 20_000; p.trip("still down"); pauses.push(p.waitMs()); }
  assert.ok(pauses[0] >= 2_000 && pauses[0] < 4_000, `second pause ${pauses[0]}`);
  assert.ok(pauses.slice(3).every((x) => x >= 16_000 && x < 32_000), `capped at 16 s (+ spread): ${pauses}`);
  p.ok();
  assert.not.ok(p.paused);
  assert.is(p.waitMs(), 0);
  assert.equal(lines, ["warn metadata server unavailable: replicate jobs paused", "info metadata server available again: replicate jobs resumed"]);
});

unit.run();

const t = suite<{ tc: TestCluster }>("jobs");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("jobs", { env: { MOGILE_DELETER_RETRY_MS: "300,600", MOGILE_DELETER_MAX_DELIVER: "1000", MOGILE_REPLICATOR_RETRY_MS: "200", MOGILE_REPLICATOR_MAX_DELIVER: "3" } });
  await ctx.tc.client.createDomain("d");
  await ctx.tc.client.createClass("d", "one", 1);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

t("deleter - retries while the device is unreachable, and removes the bytes once it is back", async ({ tc }) => {
  const put = await tc.client.put("d", "doomed", Buffer.from("bytes to delete"), { class: "one" });
  const host = tc.cluster.storage.find((s) => s.devids.includes(put.devid))!;
  const file = path.join(host.root, fidPath(put.devid, put.fid));
  assert.ok(existsSync(file));
  await stopProcess(host.proc);
  await tc.client.delete("d", "doomed");
  // the key is gone at once even though the bytes cannot be removed yet
  const status = await tc.client.getPaths("d", "doomed").then(() => "ok", (e) => e.code);
  assert.is(status, "unknown_key");
  await until(async () => (await tc.client.rpc("get_devices", { devid: put.devid })).devices[0].observed_state === "unreachable", 15_000, "device seen unreachable");
  assert.ok(existsSync(file), "bytes still there while the host is down");
  await tc.cluster.startStorage(host.host, host.devids);
  await until(() => !existsSync(file), 30_000, "bytes removed after the host came back");
});

t("replicator - a job it can never do is recorded and listed for operators", async ({ tc }) => {
  // a file whose only copy is on no live device: the replicator has no source
  const store = await openStore(tc.cluster.mongoUrl, tc.cluster.db, createLogger({ role: "test" }, "error"));
  try {
    await store.files.insertOne({ _id: fileId("d", "lost"), fid: 999_999, domain: "d", key: "lost", class: "default", length: 5, devids: [], createdAt: new Date() });
  } finally {
    await store.close();
  }
  await jetstream(tc.client.nc).publish(subjects.replicateJob, JSON.stringify({ fid: 999_999, domain: "d", key: "lost" }));
  const failed = await until(async () => (await tc.client.rpc("failed_jobs", { kind: "replicate" })).jobs.find((j) => j.fid === 999_999), 20_000, "dead letter");
  assert.match(failed.error, /no copy/);
  const r = await fetch(`${tc.cluster.httpUrl}/v1/admin/failed-jobs?kind=replicate`, { headers: { authorization: `Bearer ${tc.cluster.adminKey}` } });
  assert.ok((await r.json()).jobs.some((j: { fid: number }) => j.fid === 999_999), "listed over HTTP too");
});

t("replicator - jobs are held while the metadata server is away, not failed until they give up", async ({ tc }) => {
  await tc.client.createClass("d", "two", 2);
  await tc.client.put("d", "outage", Buffer.from("copied once the metadata server is back"), { class: "one" });
  const info = await tc.client.fileInfo("d", "outage");
  assert.is(info.devids!.length, 1);
  const ferret = await stopFerret(tc.cluster, tc.dataDir);
  if (!ferret) return; // a real MongoDB: nothing to stop here
  try {
    // a replicate job as create_close queues it (its first delivery needs no metadata read): the
    // copy is made, but recording it needs the metadata server. Three attempts 200 ms apart are
    // all this suite allows, so a job failing on each would have given up long before the return.
    await jetstream(tc.client.nc).publish(subjects.replicateJob, JSON.stringify({ fid: info.fid, domain: "d", key: "outage", class: "two", length: info.length, devids: info.devids, reason: "test", ts: Date.now() }));
    await new Promise((r) => setTimeout(r, 6_000));
  } finally {
    await ferret.restart();
  }
  await until(async () => ((await tc.client.fileInfo("d", "outage")).devids?.length ?? 0) === 2, 60_000, "the second copy recorded");
  const logs = tc.cluster.actors.filter((a) => a.role === "replicator").map((a) => readFileSync(path.join(tc.dataDir, "logs", `${a.instance}.log`), "utf8")).join("\n");
  assert.match(logs, /metadata server unavailable: replicate jobs paused/);
  assert.match(logs, /replicate jobs resumed/);
  assert.not.match(logs, new RegExp(`failed for good.*fid=${info.fid}\\b`));
});

t.run();
