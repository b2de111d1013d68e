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
import { createLogger } from "../actors/runtime/log.ts";

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

t.run();
