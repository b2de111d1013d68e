// `npm start`: a complete single-machine cluster in the foreground; Ctrl-C stops it cleanly.
// Usage: tsx deploy/launch.ts [--query N] [--replicator N] [--deleter N] [--monitor N] [--reaper N]
//                             [--gateway N] [--legacy N] [--fsck N] [--s3 N] [--hosts N] [--devices-per-host N]
//        tsx deploy/launch.ts --config node.json     (one machine of a multi-machine cluster: deploy/node-config.ts)
import { parseArgs } from "node:util";
import path from "node:path";
import { existsSync, mkdirSync } from "node:fs";
import { startCluster, ROLES, type ClusterOptions, type Role } from "./cluster.ts";
import { loadNodeConfig, nodeClusterOptions } from "./node-config.ts";
import { MogileClient } from "../protocol/client.ts";

const count = { type: "string" } as const;
const { values } = parseArgs({
  options: {
    query: count, replicator: count, deleter: count, monitor: count, reaper: count, gateway: count, legacy: count, fsck: count, s3: count,
    hosts: count, "devices-per-host": count, config: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write(`usage: npm start -- [--query N] [--replicator N] [--deleter N] [--monitor N] [--reaper N] [--legacy N] [--fsck N] [--s3 N] [--hosts N] [--devices-per-host N]
       npm start -- --config node.json    one machine of a multi-machine cluster (README: Running on several machines)
environment: MOGILE_DATA_DIR (./var)  MOGILE_HTTP_PORT (7080)  MOGILE_LEGACY_PORT (7001)  MOGILE_S3_PORT (7070)  MOGILE_NATS_PORT (4222)  MOGILE_STORAGE_PORT (7500, one per host)
             MOGILE_METRICS_PORT (7600: each process's /metrics on the next free port from there, on 127.0.0.1)
             MOGILE_MONGO_URL (use an existing MongoDB replica set instead of the embedded FerretDB)
`);
  process.exit(0);
}
const num = (v: string | undefined, dflt: number, name: string) => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 0) { process.stderr.write(`--${name} must be a whole number\n`); process.exit(2); }
  return n;
};
let options: ClusterOptions;
if (values.config) {
  let nodeName = "";
  try {
    const node = loadNodeConfig(values.config);
    nodeName = node.name;
    options = nodeClusterOptions(node);
  } catch (err) {
    process.stderr.write(`[mogile] ${(err as Error).message}\n`);
    process.exit(2);
  }
  // every machine shares one set of secrets (npm run configure): made afresh here, they would
  // sign URLs and name NATS users no other machine knows
  const missing = ["cluster.key", "nats-accounts.conf", path.join("nats", "operator.nk")].filter((f) => !existsSync(path.join(options.dataDir, "secrets", f)));
  if (missing.length) {
    process.stderr.write(`[mogile] ${path.join(options.dataDir, "secrets")} lacks ${missing.join(", ")}: copy the secrets \`npm run configure\` made to every machine first (README: Running on several machines)\n`);
    process.exit(2);
  }
  process.stdout.write(`[mogile] machine ${nodeName}: ${Object.entries(options.counts ?? {}).filter(([, n]) => n).map(([r, n]) => `${r}×${n}`).join(" ") || "no actors"}` +
    `${options.storageHosts?.length ? `, storage ${options.storageHosts.map((h) => `${h.host} (devices ${h.devids.join(",")}${h.zone ? `, zone ${h.zone}` : ""})`).join(" ")}` : ""}` +
    `${options.natsNode ? `, NATS node ${options.natsNode.name}` : ""}${options.mongoUrl ? "" : ", the embedded metadata server"}\n`);
} else {
  const counts = Object.fromEntries(ROLES.map((r) => [r, num(values[r], 1, r)])) as Record<Role, number>;
  counts.gateway = Math.min(counts.gateway, 1); // one HTTP port
  counts.legacy = Math.min(counts.legacy, 1); // one classic tracker port
  counts.s3 = Math.min(counts.s3, 1); // one S3 port
  const dataDir = path.resolve(process.env.MOGILE_DATA_DIR ?? "./var");
  mkdirSync(dataDir, { recursive: true });
  options = {
    dataDir,
    natsPort: Number(process.env.MOGILE_NATS_PORT ?? 4222),
    httpPort: Number(process.env.MOGILE_HTTP_PORT ?? 7080),
    legacyPort: Number(process.env.MOGILE_LEGACY_PORT ?? 7001),
    s3Port: Number(process.env.MOGILE_S3_PORT ?? 7070),
    metricsBasePort: Number(process.env.MOGILE_METRICS_PORT || 7600),
    storageBasePort: Number(process.env.MOGILE_STORAGE_PORT ?? 7500),
    hosts: num(values.hosts, 3, "hosts"),
    devicesPerHost: num(values["devices-per-host"], 2, "devices-per-host"),
    counts,
    logs: "inherit",
  };
}
const dataDir = options.dataDir;

const say = (s: string) => process.stdout.write(`[mogile] ${s}\n`);
say(`starting ${values.config ? "this machine's part of the cluster" : "a cluster"} in ${dataDir} …`);
const cluster = await startCluster(options);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping every actor and server …`);
  await cluster.stop();
  say("stopped; data kept in " + dataDir);
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

// a dead actor is restarted (with back-off) so the cluster keeps its shape
for (const a of cluster.actors) watch(a.role as Role, a.proc);
function watch(role: Role, proc: import("node:child_process").ChildProcess, attempt = 0) {
  const restart = (why: string) => {
    if (stopping) return;
    const delay = Math.min(30_000, 500 * 2 ** attempt);
    say(`${role} exited (${why}); restarting in ${delay} ms`);
    setTimeout(async () => {
      if (stopping) return;
      try {
        const a = await cluster.spawnActor(role);
        say(`${role} restarted as ${a.instance} (metrics ${a.metricsUrl})`);
        watch(role, a.proc, attempt + 1);
      } catch (err) {
        say(`could not restart ${role}: ${(err as Error).message}`);
      }
    }, delay);
  };
  // it may have died while the cluster was still starting
  if (proc.exitCode !== null || proc.signalCode !== null) return restart(String(proc.signalCode ?? proc.exitCode));
  proc.once("exit", (code, sig) => restart(String(sig ?? code)));
}

const client = await cluster.connectClient("admin", "mogile-launcher-ready");
await cluster.ready(client, 60_000).catch((err) => say(`warning: ${(err as Error).message}`));
await client.close();
const url = cluster.httpUrl;
const tracker = cluster.legacyPort ? `   MogileFS tracker protocol at ${cluster.address}:${cluster.legacyPort}` : "";
say(`ready: ${url ? `HTTP facade at ${url}` : "no HTTP facade on this machine"}${tracker}   NATS at ${cluster.natsUrl}   metadata at ${cluster.mongoUrl}`);
for (const s of cluster.storage) say(`storage ${s.host} at ${s.url}: devices ${s.devids.join(", ")}`);
if (url) say(`metrics: ${url}/metrics (every process, cluster-admin key; Prometheus service discovery at ${url}/metrics/targets)`);
if (url) say(`dashboard: ${url}/ui (sign in with the admin key, see below: hosts, devices, queues and events live, and a key lookup)`);
const perProcess = [...cluster.actors.map((a) => [a.instance, a.metricsUrl]), ...cluster.storage.map((s) => [s.host, s.metricsUrl])];
say(`metrics of each process: ${perProcess.map(([who, u]) => `${who} ${u}`).join("  ")}`);
const keyFile = cluster.adminKeyFile;
if (cluster.adminKeyCreated) {
  say(`first admin key (cluster-admin; shown this once, kept in ${keyFile}, mode 0600):`);
  say(`       ${cluster.adminKey}`);
} else {
  say(`admin key: in ${keyFile} (mode 0600)`);
}
if (cluster.adminKeyProblem) say(`warning: the admin key in ${keyFile} does not work: ${cluster.adminKeyProblem}`);
say(`try:   AUTH="authorization: Bearer $(cat ${keyFile})"`);
say(`       curl -H "$AUTH" -X POST -H 'content-type: application/json' -d '{"domain":"demo"}' ${url}/v1/domains`);
say(`       curl -H "$AUTH" -T README.md ${url}/v1/domains/demo/files/docs%2Freadme && curl -H "$AUTH" ${url}/v1/domains/demo/files/docs%2Freadme`);
say(`       npx mogile key add --domain demo --access write --name my-app    # a key for an app (its secret is shown once)`);
if (cluster.s3Url) {
  say(`S3 API at ${cluster.s3Url} (bucket = domain; access key id and secret = a gateway key's, e.g. the admin key's two halves):`);
  say(`       export AWS_ACCESS_KEY_ID=$(cut -d: -f1 ${keyFile}) AWS_SECRET_ACCESS_KEY=$(cut -d: -f2 ${keyFile}) AWS_DEFAULT_REGION=us-east-1`);
  say(`       aws --endpoint-url ${cluster.s3Url} s3 cp README.md s3://demo/docs/readme && aws --endpoint-url ${cluster.s3Url} s3 ls s3://demo/docs/`);
}
const seeds = path.dirname(cluster.credsFile("ops"));
say(`NATS users (nkeys, mode 0600) in ${seeds}: app (file commands), admin (every command), ops (read-only), operator (streams)`);
say(`       the mogile CLI and SDK find them by themselves from this directory (or MOGILE_DATA_DIR=${dataDir})`);
say(`watch: nats context save mogile-ops --server ${cluster.natsUrl} --nkey ${cluster.credsFile("ops")} --inbox-prefix _INBOX_ops${process.env.MOGILE_TLS_CA ? ` --tlsca ${process.env.MOGILE_TLS_CA}` : ""}`);
say(`       nats --context mogile-ops sub 'mogile.hb.>'`);
say(`other machines: their nats-server includes ${path.join(dataDir, "secrets", "nats-accounts.conf")} (users and permissions, no secrets)`);
say("Ctrl-C stops everything cleanly");
