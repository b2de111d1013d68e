// Starts a real cluster for a test suite (nats-server, FerretDB/PostgreSQL, 3 storage hosts, actors).
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { startCluster, type Cluster, type ClusterOptions } from "../../deploy/cluster.ts";
import { MogileClient } from "../../protocol/client.ts";
import { tempDir } from "./until.ts";

export interface TestCluster { cluster: Cluster; client: MogileClient; dataDir: string; stop(opts?: { keepData?: boolean }): Promise<void> }

export async function startTestCluster(name: string, opts: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  const dataDir = opts.dataDir ?? tempDir(name);
  let cluster: Cluster | undefined;
  let client: MogileClient | undefined;
  try {
    cluster = await startCluster({ ...opts, dataDir });
    // the operator user: tests also inspect and manage streams and buckets
    client = await cluster.connectClient("operator", `test-${name}`);
    await cluster.ready(client, 60_000);
  } catch (err) {
    // uvu does not print a failing before-hook's error, and a half-started cluster would keep the
    // test process alive: say what failed, stop what started, then fail the suite
    process.stderr.write(`\n[${name}] cluster did not start: ${(err as Error)?.stack ?? err}\n${await startupEvidence(dataDir, client)}\n`);
    await client?.close().catch(() => {});
    await cluster?.stop().catch(() => {});
    if (!process.env.MOGILE_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    cluster, client, dataDir,
    async stop(o = {}) {
      await client.close().catch(() => {});
      await cluster.stop();
      if (!o.keepData && !process.env.MOGILE_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** For a cluster that did not start: what each device looked like and every log's last warnings (CI keeps no data dir). */
async function startupEvidence(dataDir: string, client: MogileClient | undefined): Promise<string> {
  const out: string[] = [];
  try {
    const { devices } = await client!.rpc("get_devices", {}, 2_000);
    out.push(`devices: ${JSON.stringify(devices.map((d) => [d.devid, d.status, d.observed_state]))}`);
  } catch (err) {
    out.push(`devices: unavailable (${(err as Error)?.message})`);
  }
  const logs = path.join(dataDir, "logs");
  for (const f of existsSync(logs) ? readdirSync(logs).sort() : []) {
    try {
      const notable = readFileSync(path.join(logs, f), "utf8").split("\n").filter((l) => / (WARN|ERROR|FATAL) |Error|error/.test(l)).slice(-8);
      if (notable.length) out.push(`--- ${f}`, ...notable.map((l) => l.slice(0, 400)));
    } catch { /* unreadable */ }
  }
  return out.join("\n");
}
