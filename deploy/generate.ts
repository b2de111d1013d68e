// Generates the configuration of a multi-machine cluster: one node config per machine, the nats-server
// config of each machine's NATS node (for the systemd path), and the cluster's shared secrets.
//
//   npm run configure -- --machines 10.0.0.1,10.0.0.2,10.0.0.3 --out ./cluster
//        [--names m1,m2,m3] [--zones rack-a,rack-b,rack-c] [--mongo-url mongodb://…/?replicaSet=rs0]
//        [--data-dir /var/lib/mogile] [--storage-root /srv/mogile] [--devices 2]
//
// Writes <out>/secrets/ (copy it to <data dir>/secrets on every machine: mode 0700, owner only) and
// <out>/<name>/{node.json, nats.conf, mogile.env}. `{name}` in --data-dir and --storage-root is
// replaced by each machine's name (for several "machines" on one box, as the tests do).
import { parseArgs } from "node:util";
import { mkdirSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ensureClusterKey, ensureSecretsDir, secretsDir, writeSecretOnce } from "./secrets.ts";
import { accountsFile, userSeedFile, writeNatsAuth, ACTOR_USERS, storageUser } from "./natsauth.ts";
import { adminKeyFile } from "./admin-key.ts";
import { formatCredential, newKeyId, newSecret } from "../actors/runtime/keys.ts";
import { natsNodeConf } from "./nats-cluster.ts";
import { NodeConfig } from "./node-config.ts";

export interface GenerateOptions {
  machines: string[];
  names?: string[];
  zones?: string[];
  /** a MongoDB replica set's URL; else the first machine runs the embedded metadata server */
  mongoUrl?: string;
  dataDir?: string;
  storageRoot?: string;
  devices?: number;
  out: string;
  natsPort?: number;
  clusterPort?: number;
  metadataPort?: number;
  storagePort?: number;
}

export interface Generated { names: string[]; configFiles: string[]; secrets: string }

export function generate(o: GenerateOptions): Generated {
  const n = o.machines.length;
  if (n < 1) throw new Error("--machines: at least one address");
  const names = o.names ?? o.machines.map((_, i) => `m${i + 1}`);
  if (names.length !== n) throw new Error("--names: one name per machine");
  if (o.zones && o.zones.length !== n) throw new Error("--zones: one zone per machine");
  const natsPort = o.natsPort ?? 4222, clusterPort = o.clusterPort ?? 6222, metaPort = o.metadataPort ?? 27017;
  const per = o.devices ?? 2;
  const dataDirOf = (name: string) => path.resolve((o.dataDir ?? "/var/lib/mogile").replaceAll("{name}", name));
  const rootOf = (name: string) => path.resolve((o.storageRoot ?? "/srv/mogile").replaceAll("{name}", name));

  // the shared secrets: cluster key (URL signing, sealed key secrets), every NATS user's seed (a
  // storage user per machine, bound to its host id) with the accounts block, and the first admin key
  const bundle = path.resolve(o.out);
  ensureSecretsDir(bundle);
  ensureClusterKey(bundle);
  const hostids = names.map((_, i) => i + 1);
  writeNatsAuth(bundle, hostids);
  if (!existsSync(adminKeyFile(bundle))) writeSecretOnce(adminKeyFile(bundle), formatCredential({ id: newKeyId(), secret: newSecret() }) + "\n");

  const servers = o.machines.map((a) => `nats://${a}:${natsPort}`);
  const configFiles: string[] = [];
  names.forEach((name, i) => {
    const address = o.machines[i];
    const dir = path.join(bundle, name);
    mkdirSync(dir, { recursive: true });
    const node = {
      name: `nats-${name}`, port: natsPort, clusterPort,
      routes: o.machines.filter((_, j) => j !== i).map((a) => `nats-route://${a}:${clusterPort}`),
      clusterName: "mogile", monitorPort: 8222,
    };
    const config: NodeConfig = {
      name,
      dataDir: dataDirOf(name),
      address,
      nats: { servers, node, replicas: Math.min(3, n) },
      metadata: o.mongoUrl ? { url: o.mongoUrl } : i === 0 ? { embedded: { port: metaPort } } : { url: `mongodb://${o.machines[0]}:${metaPort}/?replicaSet=rs0` },
      // every machine runs every role: any one can be lost
      roles: { query: 1, replicator: 1, deleter: 1, monitor: 1, reaper: 1, fsck: 1, gateway: 1, legacy: 1, s3: 1 },
      ports: { http: 7080, legacy: 7001, s3: 7070 },
      // each process's own /metrics on loopback; Prometheus elsewhere scrapes the gateway's /metrics
      metrics: { address: "127.0.0.1", port: 7600 },
      storage: {
        hostid: hostids[i], host: name, port: o.storagePort ?? 7500,
        ...(o.zones ? { zone: o.zones[i] } : {}),
        root: rootOf(name),
        devices: Array.from({ length: per }, (_, d) => i * per + d + 1),
      },
    };
    NodeConfig.parse(config); // what we write is what the launcher accepts
    const file = path.join(dir, "node.json");
    // owner-only: a --mongo-url may hold a password
    writeFileSync(file, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
    configFiles.push(file);
    // the systemd path (deploy/systemd): nats-server on its own, actors one unit per role
    const data = dataDirOf(name);
    writeFileSync(path.join(dir, "nats.conf"), natsNodeConf({ ...node, host: address }, path.join(data, "nats-node", "store"), path.join(secretsDir(data), "nats-accounts.conf")));
    const mongo = "url" in config.metadata ? config.metadata.url : `mongodb://${address}:${metaPort}/?replicaSet=rs0`;
    writeFileSync(path.join(dir, "mogile.env"), [
      "# every actor of this machine (deploy/systemd/mogile@.service); a role's own file adds its NATS user",
      // this machine's own NATS node first, and used first (see README: partitions)
      `MOGILE_NATS_URL=${[servers[i], ...servers.filter((_, j) => j !== i)].join(",")}`,
      "MOGILE_NATS_LOCAL_FIRST=1",
      `MOGILE_MONGO_URL=${mongo}`,
      `MOGILE_JS_REPLICAS=${Math.min(3, n)}`,
      `MOGILE_CLUSTER_KEY_FILE=${path.join(secretsDir(data), "cluster.key")}`,
      `MOGILE_HTTP_HOST=${address}`, `MOGILE_S3_HOST=${address}`, `MOGILE_LEGACY_BIND=${address}`,
      "",
    ].join("\n"), { mode: 0o600 });
    for (const role of ACTOR_USERS) {
      writeFileSync(path.join(dir, `${role}.env`), `MOGILE_NATS_USER=${role}\nMOGILE_NATS_NKEY=${path.join(secretsDir(data), "nats", `${role}.nk`)}\n`);
    }
    const user = storageUser(hostids[i]);
    writeFileSync(path.join(dir, "storage.env"), [
      `MOGILE_NATS_USER=${user}`, `MOGILE_NATS_NKEY=${path.join(secretsDir(data), "nats", `${user}.nk`)}`,
      `MOGILE_STORAGE_HOST=${name}`, `MOGILE_STORAGE_HOSTID=${hostids[i]}`, `MOGILE_STORAGE_IP=${address}`,
      `MOGILE_STORAGE_PORT=${o.storagePort ?? 7500}`, `MOGILE_STORAGE_ROOT=${rootOf(name)}`,
      `MOGILE_STORAGE_DEVICES=${config.storage!.devices.join(",")}`, ...(o.zones ? [`MOGILE_STORAGE_ZONE=${o.zones[i]}`] : []),
      "",
    ].join("\n"));
  });
  // sanity: the files the machines need are there
  for (const f of [accountsFile(bundle), userSeedFile(bundle, "operator"), path.join(secretsDir(bundle), "cluster.key")]) readFileSync(f);
  return { names, configFiles, secrets: secretsDir(bundle) };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("deploy/generate.ts")) {
  const { values } = parseArgs({
    options: {
      machines: { type: "string" }, names: { type: "string" }, zones: { type: "string" }, "mongo-url": { type: "string" },
      "data-dir": { type: "string" }, "storage-root": { type: "string" }, devices: { type: "string" }, out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.machines || !values.out) {
    process.stdout.write("usage: npm run configure -- --machines ADDR,ADDR,ADDR --out DIR [--names a,b,c] [--zones z1,z2,z3] [--mongo-url URL] [--data-dir /var/lib/mogile] [--storage-root /srv/mogile] [--devices 2]\n");
    process.exit(values.help ? 0 : 2);
  }
  const list = (s?: string) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : undefined);
  try {
    const g = generate({
      machines: list(values.machines)!, names: list(values.names), zones: list(values.zones), mongoUrl: values["mongo-url"],
      dataDir: values["data-dir"], storageRoot: values["storage-root"], devices: values.devices ? Number(values.devices) : undefined, out: values.out,
    });
    process.stdout.write(`wrote ${g.configFiles.join(", ")}\nshared secrets in ${g.secrets}: copy them to <data dir>/secrets on every machine (owner only)\n` +
      `then on each machine: npm start -- --config <out>/<name>/node.json\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}
