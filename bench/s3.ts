// The S3 half of the bench: PutObject and GetObject of 4 KiB at 1 and 8 clients through the AWS SDK
// for JavaScript v3, and a big object uploaded in parts (lib-storage, composed storage-to-storage
// into one fid) and downloaded, with the peak RSS of the S3 actor and the storage agents.
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Readable } from "node:stream";
import type { Cluster } from "../deploy/cluster.ts";
import { consumeChecked, fmt, log, mib, patternStream, runPool, type PoolResult } from "./util.ts";
import { rssSampler } from "./procs.ts";

export interface S3BenchOptions {
  cl: Cluster;
  body: Buffer;
  big: number;
  phaseMs: number;
  rows: string[][];
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

export async function s3Bench(o: S3BenchOptions): Promise<void> {
  const [id, secret] = o.cl.adminKey.split(":");
  const s3 = new S3Client({ endpoint: o.cl.s3Url, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: id, secretAccessKey: secret }, maxAttempts: 1 });
  const bucket = "bench-s3";
  const rate = (r: PoolResult) => r.ops / r.seconds;
  const note = (r: PoolResult) => (r.errors ? `${r.errors} errors (${r.firstError})` : "");
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const keys: string[] = [];
    for (const conc of [1, 8]) {
      log(`S3 PutObject 4 KiB, ${conc} client(s) ...`);
      const r = await o.phase(`s3 put c=${conc}`, () => runPool({ concurrency: conc, durationMs: o.phaseMs, maxOps: 100_000 }, async (i) => {
        const key = `small/${conc}/${i}`;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: o.body }));
        keys.push(key);
      }));
      o.rows.push([`S3 PutObject 4 KiB, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} objects/s`, "", note(r) || "both copies fsynced before the answer"]);
    }
    for (const conc of [1, 8]) {
      log(`S3 GetObject 4 KiB, ${conc} client(s) ...`);
      const r = await o.phase(`s3 get c=${conc}`, () => runPool({ concurrency: conc, durationMs: o.phaseMs, maxOps: 1_000_000 }, async (i) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[i % keys.length] }));
        const n = (await got.Body!.transformToByteArray()).length;
        if (n !== o.body.length) throw new Error(`read ${n} bytes`);
      }));
      o.rows.push([`S3 GetObject 4 KiB, ${conc} client${conc > 1 ? "s" : ""}`, `${fmt(rate(r))} objects/s`, "", note(r)]);
    }
    const s3pid = o.cl.actors.find((a) => a.role === "s3")!.proc.pid!;
    const storagePids = o.cl.storage.map((s) => s.proc.pid!);
    const big = async (label: string, fn: () => Promise<void>) => {
      log(`S3 ${label} (${mib(o.big)}) ...`);
      const sampler = rssSampler([s3pid, ...storagePids]);
      const t = performance.now();
      await o.phase(`s3 ${label}`, fn);
      const s = (performance.now() - t) / 1000;
      const { start, peak } = sampler.stop();
      const worst = storagePids.reduce((a, p) => ((peak.get(p) ?? 0) > (peak.get(a) ?? 0) ? p : a));
      const rss = (p: number) => `${mib(peak.get(p) ?? 0)} (from ${mib(start.get(p) ?? 0)})`;
      o.rows.push([`S3 ${mib(o.big)} ${label}`, `${fmt(o.big / 1e6 / s, 1)} MB/s`, "", `peak RSS: s3 actor ${rss(s3pid)}, storage ${rss(worst)}`]);
    };
    await big("multipart upload (16 MiB parts, 4 at a time; one fid)", async () => {
      await new Upload({ client: s3, params: { Bucket: bucket, Key: "big", Body: patternStream(o.big) }, partSize: 16 * 1024 * 1024, queueSize: 4 }).done();
    });
    await big("download", async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big" }));
      const n = await consumeChecked(got.Body as Readable);
      if (n !== o.big) throw new Error(`S3 download got ${n} of ${o.big} bytes`);
    });
  } finally {
    s3.destroy();
  }
}
