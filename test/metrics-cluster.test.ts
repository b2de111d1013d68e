// Integration: Prometheus metrics on a real cluster (NATS with its users and permissions on) — each
// process's own /metrics port, the gateway's aggregated /metrics over NATS, and `nats micro stats`
// (the $SRV.STATS subject) counting the real work of each tracker command, errors included.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until, readAll } from "./helpers/until.ts";
import { Tracker } from "./helpers/tracker.ts";
import { SERVICE_NAME, subjects } from "../protocol/subjects.ts";
import { findCredentials, natsAuthOptions } from "../protocol/credentials.ts";
import { MetricsScrapeReply } from "../protocol/metrics.ts";
import { MogileError } from "../protocol/errors.ts";

interface Sample { name: string; labels: Record<string, string>; value: number }

/** The samples of a text exposition (enough of the format for what mogile writes). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}
/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
const has = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

const t = suite<{ tc: TestCluster }>("metrics-cluster");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("metrics");
  await ctx.tc.client.createDomain("met");
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const scrapeUrl = async (url: string) => {
  const res = await fetch(url);
  assert.is(res.status, 200, url);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  return parse(await res.text());
};
const queryMetrics = (tc: TestCluster) => scrapeUrl(tc.cluster.actors.find((a) => a.role === "query")!.metricsUrl);
const gatewayMetrics = async (tc: TestCluster, key = tc.cluster.adminKey) => {
  const res = await fetch(`${tc.cluster.httpUrl}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, text: await res.text() };
};

t("metrics - a query actor's own /metrics counts each command, its errors by code, and its latency", async ({ tc }) => {
  const before = await queryMetrics(tc);
  const body = randomBytes(50_000);
  for (let i = 0; i < 3; i++) await tc.client.put("met", `f${i}`, body);
  for (let i = 0; i < 3; i++) assert.is((await readAll((await tc.client.get("met", `f${i}`)).body)).length, body.length);
  for (let i = 0; i < 2; i++) {
    const err = await tc.client.rpc("get_paths", { domain: "met", key: "no-such-key" }).catch((e: unknown) => e);
    assert.ok(err instanceof MogileError && err.code === "unknown_key", String(err));
  }
  // the answer is sent, then counted: wait until the actor has counted all of them
  const after = await until(async () => {
    const s = await queryMetrics(tc);
    return sum(s, "mogile_command_requests_total", { command: "get_paths" }) - sum(before, "mogile_command_requests_total", { command: "get_paths" }) >= 5 && s;
  }, 10_000, "get_paths counted");
  const delta = (name: string, labels: Record<string, string>) => sum(after, name, labels) - sum(before, name, labels);
  assert.is(delta("mogile_command_requests_total", { command: "get_paths" }), 5, "3 reads and 2 misses");
  assert.is(delta("mogile_command_errors_total", { command: "get_paths", code: "unknown_key" }), 2, "the misses, by code");
  assert.is(delta("mogile_command_errors_total", { command: "get_paths" }), 2, "no other errors");
  assert.ok(delta("mogile_command_requests_total", { command: "create_open" }) >= 3);
  assert.ok(delta("mogile_command_requests_total", { command: "create_close" }) >= 3);
  assert.is(delta("mogile_command_duration_seconds_count", { command: "get_paths" }), 5, "every request timed");
  assert.ok(delta("mogile_command_duration_seconds_sum", { command: "get_paths" }) > 0, "real time spent");
  assert.is(sum(after, "mogile_command_duration_seconds_bucket", { command: "get_paths", le: "+Inf" }), sum(after, "mogile_command_duration_seconds_count", { command: "get_paths" }));
  assert.ok(has(after, "process_cpu_user_seconds_total") && has(after, "nodejs_eventloop_lag_seconds"), "process metrics too");
});

t("metrics - nats micro stats report each endpoint's real latency and its errors ($SRV.STATS)", async ({ tc }) => {
  const stats = async () => {
    const it = await new Svcm(tc.client.nc).client().stats(SERVICE_NAME);
    const all = [];
    for await (const s of it) all.push(s);
    assert.is(all.length, 1, "one query actor");
    return all[0].endpoints!.find((e) => e.name === "get_paths")!;
  };
  await tc.client.put("met", "micro", "x");
  const before = await stats();
  await tc.client.rpc("get_paths", { domain: "met", key: "micro" });
  await tc.client.rpc("get_paths", { domain: "met", key: "micro" });
  await tc.client.rpc("get_paths", { domain: "met", key: "gone" }).catch(() => {});
  await tc.client.rpc("get_paths", { domain: "no-such-domain", key: "x" }).catch(() => {});
  const after = await until(async () => { const s = await stats(); return s.num_requests >= before.num_requests + 4 && s; }, 10_000, "stats counted");
  assert.is(after.num_requests - before.num_requests, 4);
  assert.is(after.num_errors - before.num_errors, 2, "errors answered after the handler returned are counted");
  assert.ok(after.last_error && after.last_error.length > 0, `last error: ${after.last_error}`);
  // the library alone would time only the synchronous call: 0 ms at millisecond resolution
  assert.ok(after.processing_time > before.processing_time, "time of the awaited work");
  assert.ok(after.average_processing_time > 0);
  // the micro stats and the Prometheus histogram measure the same thing
  const prom = await queryMetrics(tc);
  assert.ok(sum(prom, "mogile_command_duration_seconds_count", { command: "get_paths" }) === after.num_requests, "the same count in both");
});

t("metrics - storage agents' /metrics count bytes in and out and requests by method", async ({ tc }) => {
  const total = async (name: string, labels: Record<string, string>) =>
    (await Promise.all(tc.cluster.storage.map((h) => scrapeUrl(h.metricsUrl)))).reduce((n, s) => n + sum(s, name, labels), 0);
  const sentBefore = await total("mogile_storage_sent_bytes_total", { method: "GET" });
  const receivedBefore = await total("mogile_storage_received_bytes_total", { method: "PUT" });
  const putsBefore = await total("mogile_storage_requests_total", { method: "PUT", status: "201" });
  const body = randomBytes(200_000);
  await tc.client.put("met", "bytes", body);
  await readAll((await tc.client.get("met", "bytes")).body);
  // which agents serve the read and take the write is the cluster's choice: counted across all of them
  await until(async () => (await total("mogile_storage_sent_bytes_total", { method: "GET" })) - sentBefore >= body.length, 10_000, "a read's bytes out");
  assert.ok((await total("mogile_storage_received_bytes_total", { method: "PUT" })) - receivedBefore >= body.length, "an upload's bytes in");
  assert.ok((await total("mogile_storage_requests_total", { method: "PUT", status: "201" })) - putsBefore >= 1);
  assert.ok((await total("mogile_storage_request_duration_seconds_count", { method: "GET" })) >= 1);
});

t("metrics - the gateway serves every process's metrics with role and instance labels, behind a cluster-admin key", async ({ tc }) => {
  assert.is((await gatewayMetrics(tc, "")).status, 401, "no key");
  // a few more kinds of traffic: the classic protocol (one command failing), an S3 request
  const tr = await Tracker.connect(tc.cluster.legacyPort);
  await tr.ok("get_domains");
  assert.is(await tr.err("get_paths", { domain: "no-such-domain", key: "x" }), "unreg_domain");
  tr.close();
  await fetch(`${tc.cluster.s3Url}/`).then((r) => r.arrayBuffer());
  await tc.client.put("met", "lag", "replicated"); // the default class keeps 2 copies
  // jobs for the replicator (a third copy) and the deleter (the bytes of a deleted file)
  await tc.client.createClass("met", "three", 3);
  await tc.client.changeClass("met", "lag", "three");
  await tc.client.put("met", "doomed", "bytes to delete");
  await tc.client.rpc("delete", { domain: "met", key: "doomed" });

  const processes = [...tc.cluster.actors.map((a) => [a.role, a.instance]), ...tc.cluster.storage.map((s) => ["storage", s.host])];
  let lacking = "";
  const { status, text } = await until(async () => {
    const r = await gatewayMetrics(tc);
    const s = parse(r.text);
    lacking = [
      ...(r.status === 200 ? [] : [`status ${r.status}`]),
      ...processes.filter(([role, instance]) => sum(s, "mogile_scrape_source_up", { role, instance }) !== 1).map(([, instance]) => instance),
      ...(sum(s, "mogile_legacy_errors_total", { role: "legacy" }) >= 1 ? [] : ["legacy errors"]),
      ...(has(s, "mogile_s3_requests_total", { role: "s3" }) ? [] : ["s3 requests"]),
      // the chain met the policy at create_close (query: 0 s), or the replicator did later
      ...(sum(s, "mogile_replication_lag_seconds_count") >= 1 ? [] : ["replication lag"]),
      ...(sum(s, "mogile_jobs_total", { role: "replicator", outcome: "done" }) >= 1 ? [] : ["replicate jobs"]),
      ...(sum(s, "mogile_jobs_total", { role: "deleter", outcome: "done" }) >= 1 ? [] : ["delete jobs"]),
    ].join(", ");
    return !lacking && r;
  }, 30_000, "every process in the gateway's /metrics").catch((err: Error) => { throw new Error(`${err.message}; lacking: ${lacking}`); });
  assert.is(status, 200);
  const s = parse(text);
  // one HELP and TYPE per family, its samples right after it
  const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
  assert.is(new Set(types).size, types.length, "each family declared once");
  for (const [role, instance] of processes) assert.ok(has(s, "process_resident_memory_bytes", { role, instance }), `${role} ${instance}`);
  const query = tc.cluster.actors.find((a) => a.role === "query")!.instance;
  assert.ok(sum(s, "mogile_command_requests_total", { role: "query", instance: query, command: "create_open" }) >= 1);
  assert.ok(sum(s, "mogile_legacy_requests_total", { role: "legacy", command: "get_domains" }) >= 1);
  assert.ok(sum(s, "mogile_legacy_errors_total", { role: "legacy", command: "get_paths", code: "unreg_domain" }) >= 1);
  assert.ok(has(s, "mogile_s3_requests_total", { role: "s3", operation: "ListBuckets" }));
  // jobs: outcomes and the queue's depth from JetStream
  assert.ok(sum(s, "mogile_jobs_total", { role: "replicator", kind: "replicate", outcome: "done" }) >= 1);
  assert.ok(sum(s, "mogile_jobs_total", { role: "deleter", kind: "delete", outcome: "done" }) >= 1);
  assert.ok(sum(s, "mogile_replication_copies_total", { role: "replicator" }) >= 1, "the third copy");
  assert.ok(has(s, "mogile_job_duration_seconds_count", { role: "replicator", kind: "replicate" }));
  assert.ok(has(s, "mogile_job_queue_messages", { role: "replicator", kind: "replicate", state: "pending" }));
  assert.ok(has(s, "mogile_job_queue_messages", { role: "deleter", kind: "delete", state: "pending" }));
  // devices, from the monitor: six, writeable, with sizes
  const devs = tc.cluster.storage.flatMap((h) => h.devids);
  for (const devid of devs) {
    assert.is(sum(s, "mogile_device_observed_state", { role: "monitor", devid: String(devid), state: "writeable" }), 1, `dev${devid} writeable`);
    assert.is(sum(s, "mogile_device_admin_state", { role: "monitor", devid: String(devid), state: "alive" }), 1);
    assert.ok(sum(s, "mogile_device_total_bytes", { devid: String(devid) }) > 0);
  }
  // fsck progress from the lease holder (no run yet: idle)
  assert.is(sum(s, "mogile_fsck_running", { role: "fsck" }), 0);
  assert.ok(has(s, "mogile_fsck_checked_files", { role: "fsck" }));
  assert.ok(has(s, "mogile_http_requests_total", { role: "gateway", route: "/metrics" }), "the gateway counts its own routes");

  // an fsck run: its progress from the lease holder, its checks from the actor that made them
  await tc.client.rpc("fsck_start", {});
  const fsck = await until(async () => {
    const m = parse((await gatewayMetrics(tc)).text);
    return sum(m, "mogile_fsck_running") === 0 && sum(m, "mogile_fsck_checked_files") >= 1 && m;
  }, 60_000, "an fsck run counted");
  assert.is(sum(fsck, "mogile_fsck_checked_files"), sum(fsck, "mogile_fsck_checks_total"), "files checked: the run's and the actor's count agree");
  assert.ok(has(fsck, "mogile_fsck_problems", { role: "fsck", evcode: "MISS" }));

  // discovery: each process's own port, for Prometheus HTTP service discovery
  const targets = await (await fetch(`${tc.cluster.httpUrl}/metrics/targets`, { headers: { authorization: `Bearer ${tc.cluster.adminKey}` } })).json() as { targets: string[]; labels: Record<string, string> }[];
  for (const [role, instance] of processes) assert.ok(targets.some((x) => x.labels.role === role && x.labels.instance === instance), `${role} ${instance} discoverable`);
});

t("metrics - the ops user may ask every process where its metrics are; app users may not", async ({ tc }) => {
  const as = async (user: string) => connect({ servers: tc.cluster.natsUrl.split(","), name: `metrics-${user}`, ...natsAuthOptions(findCredentials({ nkeyFile: tc.cluster.credsFile(user) }, user)) });
  const ops = await as("ops");
  try {
    const replies: MetricsScrapeReply[] = [];
    for await (const m of await ops.requestMany(subjects.metricsScrape, JSON.stringify({ text: false }), { strategy: "stall", maxWait: 5_000, stall: 1_000 })) replies.push(MetricsScrapeReply.parse(m.json()));
    assert.ok(replies.some((r) => r.role === "query" && r.url?.startsWith("http://127.0.0.1:")), "the query actor answers with its URL");
    assert.ok(replies.every((r) => r.text === undefined), "only where, not what");
  } finally {
    await ops.close();
  }
  const app = await as("app");
  try {
    const err = await app.request(subjects.metricsScrape, "{}", { timeout: 2_000 }).then(() => null, (e: Error) => e);
    assert.ok(err, "refused");
  } finally {
    await app.close();
  }
});

t.run();
