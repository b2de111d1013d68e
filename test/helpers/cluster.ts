// Starts a real cluster for a test suite (nats-server, FerretDB/PostgreSQL, 3 storage hosts, actors).
import { rmSync } from "node:fs";
import { startCluster, type Cluster, type ClusterOptions } from "../../deploy/cluster.ts";
import { MogileClient } from "../../protocol/client.ts";
import { tempDir } from "./until.ts";

export interface TestCluster { cluster: Cluster; client: MogileClient; dataDir: string; stop(opts?: { keepData?: boolean }): Promise<void> }

export async function startTestCluster(name: string, opts: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  const dataDir = opts.dataDir ?? tempDir(name);
  const cluster = await startCluster({ ...opts, dataDir });
  // the operator user: tests also inspect and manage streams and buckets
  const client = await cluster.connectClient("operator", `test-${name}`);
  await cluster.ready(client, 30_000);
  return {
    cluster, client, dataDir,
    async stop(o = {}) {
      await client.close().catch(() => {});
      await cluster.stop();
      if (!o.keepData && !process.env.MOGILE_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
