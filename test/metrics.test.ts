// Unit: merging many processes' Prometheus expositions into one, naming S3 operations, and the
// gateway's /metrics routes behind the keys (in-process, a fake metrics source, no cluster).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { MogileError } from "../protocol/errors.ts";
import type { MogileClient } from "../protocol/client.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { newKeyId, newSecret, secretVerifier } from "../actors/runtime/keys.ts";
import { createApp } from "../actors/gateway/app.ts";
import { Authenticator } from "../actors/gateway/auth.ts";
import { Config, limitsOf } from "../actors/gateway/server.ts";
import { clusterExposition, mergeExpositions, scrapeTargets, type Scrape } from "../actors/gateway/scrape.ts";
import { s3Operation } from "../actors/s3/metrics.ts";

const t = suite("metrics");

const QUERY = `# HELP mogile_command_requests_total Tracker commands
# TYPE mogile_command_requests_total counter
mogile_command_requests_total{command="get_paths"} 3
mogile_command_requests_total{command="create_open"} 1

# HELP mogile_command_duration_seconds Time
# TYPE mogile_command_duration_seconds histogram
mogile_command_duration_seconds_bucket{le="0.001",command="get_paths"} 2
mogile_command_duration_seconds_bucket{le="+Inf",command="get_paths"} 3
mogile_command_duration_seconds_sum{command="get_paths"} 0.004
mogile_command_duration_seconds_count{command="get_paths"} 3

# HELP process_cpu_user_seconds_total CPU
# TYPE process_cpu_user_seconds_total counter
process_cpu_user_seconds_total 1.5
`;
const STORAGE = `# HELP process_cpu_user_seconds_total CPU
# TYPE process_cpu_user_seconds_total counter
process_cpu_user_seconds_total 0.25
# HELP mogile_storage_sent_bytes_total Bytes sent
# TYPE mogile_storage_sent_bytes_total counter
mogile_storage_sent_bytes_total{method="GET"} 1024
`;

t("metrics - expositions merge with role and instance labels, each family's HELP and TYPE once, its samples together", () => {
  const text = mergeExpositions([{ role: "query", instance: "query-1", text: QUERY }, { role: "storage", instance: "host1", text: STORAGE }]);
  const lines = text.trim().split("\n");
  assert.is(lines.filter((l) => l === "# TYPE process_cpu_user_seconds_total counter").length, 1, "one TYPE line per family");
  const cpu = lines.indexOf("# TYPE process_cpu_user_seconds_total counter");
  assert.equal(lines.slice(cpu + 1, cpu + 3), [
    'process_cpu_user_seconds_total{role="query",instance="query-1"} 1.5',
    'process_cpu_user_seconds_total{role="storage",instance="host1"} 0.25',
  ], "a family's samples from every source follow its TYPE line");
  assert.ok(lines.includes('mogile_command_requests_total{role="query",instance="query-1",command="get_paths"} 3'));
  assert.ok(lines.includes('mogile_command_duration_seconds_bucket{role="query",instance="query-1",le="+Inf",command="get_paths"} 3'));
  assert.ok(lines.includes('mogile_storage_sent_bytes_total{role="storage",instance="host1",method="GET"} 1024'));
  assert.not.ok(lines.includes(""), "no blank lines");
  // every sample line belongs to the family declared last before it
  let family = "";
  for (const l of lines) {
    if (l.startsWith("# TYPE ")) { family = l.split(" ")[2]; continue; }
    if (l.startsWith("#")) continue;
    assert.ok(l.startsWith(family), `${l} under ${family}`);
  }
});

t("metrics - label values are escaped, and an empty label set takes the source labels alone", () => {
  const text = mergeExpositions([{ role: "q", instance: 'a"b\\c', text: "# TYPE x gauge\nx{} 1\n" }]);
  assert.ok(text.includes('x{role="q",instance="a\\"b\\\\c"} 1'), text);
});

const scrape: Scrape = {
  replies: [
    { role: "query", instance: "query-1", url: "http://127.0.0.1:7601/metrics", text: QUERY },
    { role: "storage", instance: "host1", url: null, error: "too large" },
  ],
  missing: [{ role: "fsck", instance: "fsck-3" }],
  seconds: 0.01,
};

t("metrics - the cluster exposition says which processes answered, and discovery lists each process's own port", () => {
  const text = clusterExposition(scrape);
  assert.ok(text.includes('mogile_scrape_source_up{role="query",instance="query-1"} 1'));
  assert.ok(text.includes('mogile_scrape_source_up{role="storage",instance="host1"} 0'), "answered without its metrics");
  assert.ok(text.includes('mogile_scrape_source_up{role="fsck",instance="fsck-3"} 0'), "seen before, silent now");
  assert.equal(scrapeTargets(scrape), [{ targets: ["127.0.0.1:7601"], labels: { role: "query", instance: "query-1", __scheme__: "http", __metrics_path__: "/metrics" } }]);
});

t("metrics - S3 requests are named by operation as AWS names them", () => {
  const op = (method: string, bucket?: string, key?: string, query = "", headers: Record<string, string> = {}) =>
    s3Operation({ method, bucket, key, query: new URLSearchParams(query), req: { headers } as never });
  assert.is(op("GET"), "ListBuckets");
  assert.is(op("GET", "b", undefined, "list-type=2"), "ListObjectsV2");
  assert.is(op("POST", "b", undefined, "delete"), "DeleteObjects");
  assert.is(op("PUT", "b", "k"), "PutObject");
  assert.is(op("PUT", "b", "k", "", { "x-amz-copy-source": "/b/j" }), "CopyObject");
  assert.is(op("PUT", "b", "k", "uploadId=1&partNumber=2"), "UploadPart");
  assert.is(op("POST", "b", "k", "uploads"), "CreateMultipartUpload");
  assert.is(op("HEAD", "b", "k"), "HeadObject");
  assert.is(op("PATCH", "b", "k"), "Other");
});

t("metrics - the gateway's /metrics needs a cluster-admin key, and its own routes are counted by pattern", async () => {
  const clusterKey = randomBytes(32);
  const keys = new Map<string, { secret: string; admin: boolean }>();
  const add = (admin: boolean) => { const id = newKeyId(), secret = newSecret(); keys.set(id, { secret, admin }); return `${id}:${secret}`; };
  const tracker = {
    async rpc(command: string, args: { id?: string }) {
      if (command === "key_lookup") {
        const k = keys.get(args.id!);
        if (!k) throw new MogileError("unknown_access_key");
        return { id: args.id, scopes: k.admin ? [] : [{ domain: "a", access: "admin" }], cluster_admin: k.admin, revoked: false, verifier: secretVerifier(clusterKey, args.id!, k.secret) };
      }
      return {};
    },
  };
  const cfg = Config.parse({});
  const auth = new Authenticator(tracker as unknown as Pick<MogileClient, "rpc">, { clusterKey, keyCacheMs: 60_000, domainCacheMs: 0 });
  let scrapes = 0;
  const app = createApp(tracker as unknown as MogileClient, createLogger({ role: "test" }, "error"), {
    auth, limits: limitsOf(cfg), metrics: { scrape: async () => { scrapes++; return scrape; } },
  });
  const get = (path: string, key?: string) => app.request(path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  assert.is((await get("/metrics")).status, 401);
  assert.is((await get("/metrics", add(false))).status, 403, "a domain admin is no cluster admin");
  assert.is(scrapes, 0, "refused before any scrape");
  const admin = add(true);
  const res = await get("/metrics", admin);
  assert.is(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  assert.ok((await res.text()).includes('mogile_command_requests_total{role="query",instance="query-1",command="get_paths"} 3'));
  const targets = await get("/metrics/targets", admin);
  assert.is(targets.status, 200);
  assert.is((await targets.json() as unknown[]).length, 1);

  const { registry } = await import("../actors/runtime/metrics.ts");
  const own = await registry.metrics();
  assert.match(own, /mogile_http_requests_total\{route="\/metrics",method="GET",status="401"\} 1/);
  assert.match(own, /mogile_http_requests_total\{route="\/metrics",method="GET",status="200"\} 1/);
  assert.match(own, /mogile_http_request_duration_seconds_count\{route="\/metrics\/targets",method="GET"\} 1/);
  await get("/nowhere");
  assert.match(await registry.metrics(), /mogile_http_requests_total\{route="unmatched",method="GET",status="404"\} 1/);
});

t.run();
