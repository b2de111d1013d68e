// A client that runs on one of the hosts test's "machines" (inside its network namespace), so its
// traffic goes over that machine's link. Usage (JSON in argv[2]):
//   { "mode": "load", servers, nkey, domain, prefix, ms, out }   store/read/delete for `ms`, retrying
//        each operation (bounded) through failures; every acknowledged store and delete is appended
//        to `out` as a JSON line, with the number of retries and any operation given up on
//   { "mode": "verify", servers, nkey, domain, files: [{key, sha}], out }   reads every key back and
//        writes {missing, bad, devids: {key: [devid…]}} to `out`
//   { "mode": "rpc", servers, nkey, command, args, out }   one tracker command, its reply to `out`
//   { "mode": "healthz", port, out }   the machine's nats-server /healthz (JetStream current here?):
//        {code, body} to `out`; no NATS connection
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { MogileClient } from "../../protocol/client.ts";
import type { Readable } from "node:stream";

// the arguments, or the name of a file holding them (a verify's file list is too long for argv)
const a = JSON.parse(process.argv[2].startsWith("{") ? process.argv[2] : readFileSync(process.argv[2], "utf8")) as Record<string, any>;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

if (a.mode === "healthz") {
  const res = await fetch(`http://127.0.0.1:${a.port}/healthz`, { signal: AbortSignal.timeout(5_000) });
  writeFileSync(a.out, JSON.stringify({ code: res.status, body: await res.text() }));
  process.exit(0);
}

const client = await MogileClient.connect({ servers: a.servers, nkeyFile: a.nkey, name: `hosts-${a.mode}`, timeoutMs: 5_000 });

/** Try `fn` until it succeeds: at most 40 attempts within 90 s (a machine lost takes the monitor ~5 s to see). */
async function retrying<T>(what: string, fn: () => Promise<T>, stats: { retries: number }, ms = 90_000): Promise<T> {
  const start = Date.now();
  const deadline = start + ms;
  let first: { at: number; err: unknown } | null = null;
  let last: unknown;
  let attempt = 1;
  for (; attempt <= 40 && Date.now() < deadline; attempt++) {
    try {
      return await fn();
    } catch (err) {
      first ??= { at: Date.now(), err };
      last = err;
      stats.retries++;
      await sleep(Math.min(3_000, 100 * 2 ** Math.min(attempt, 5)));
    }
  }
  // when it began and ended (wall clock, to line up with the machines' logs) and what went wrong first
  const msg = (e: unknown) => (e as Error)?.message ?? String(e);
  throw new Error(`${what}: gave up: ${msg(last)} (${attempt - 1} attempts from ${new Date(start).toISOString()} to ${new Date().toISOString()}; first error at ${new Date(first!.at).toISOString()}: ${msg(first!.err)})`);
}

try {
  if (a.mode === "load") {
    const stats = { retries: 0, stored: 0, read: 0, deleted: 0, failed: 0 };
    const mine: { key: string; sha: string }[] = [];
    const until = Date.now() + a.ms;
    let n = 0;
    while (Date.now() < until) {
      n++;
      const roll = Math.random();
      try {
        if (roll < 0.7 || mine.length < 5) {
          const key = `${a.prefix}/${n}`;
          const body = randomBytes(1024 + Math.floor(Math.random() * 16_384));
          const t0 = Date.now();
          await retrying(`store ${key}`, () => client.put(a.domain, key, body), stats);
          mine.push({ key, sha: sha(body) });
          stats.stored++;
          appendFileSync(a.out, JSON.stringify({ op: "put", key, sha: sha(body), t0, t: Date.now() }) + "\n");
        } else if (roll < 0.9) {
          const f = mine[Math.floor(Math.random() * mine.length)];
          const got = await retrying(`read ${f.key}`, async () => sha(await readAll((await client.get(a.domain, f.key)).body)), stats);
          if (got !== f.sha) throw new Error(`read ${f.key}: content differs`);
          stats.read++;
        } else {
          const [f] = mine.splice(Math.floor(Math.random() * mine.length), 1);
          await retrying(`delete ${f.key}`, () => client.delete(a.domain, f.key).catch((err) => {
            // a retry after a delete that did go through (its reply was lost)
            if ((err as { code?: string }).code === "unknown_key") return null;
            throw err;
          }), stats);
          stats.deleted++;
          appendFileSync(a.out, JSON.stringify({ op: "del", key: f.key, t: Date.now() }) + "\n");
        }
      } catch (err) {
        stats.failed++;
        appendFileSync(a.out, JSON.stringify({ op: "fail", error: (err as Error).message }) + "\n");
      }
    }
    appendFileSync(a.out, JSON.stringify({ op: "done", ...stats }) + "\n");
  } else if (a.mode === "verify") {
    const missing: string[] = [];
    const bad: string[] = [];
    const devids: Record<string, number[]> = {};
    const stats = { retries: 0 };
    for (const f of a.files as { key: string; sha: string }[]) {
      try {
        const got = await retrying(`read ${f.key}`, async () => sha(await readAll((await client.get(a.domain, f.key)).body)), stats, 15_000);
        if (got !== f.sha) bad.push(f.key);
        devids[f.key] = (await retrying(`file_info ${f.key}`, () => client.fileInfo(a.domain, f.key), stats, 15_000)).devids ?? [];
      } catch (err) {
        missing.push(`${f.key}: ${(err as Error).message}`);
      }
    }
    writeFileSync(a.out, JSON.stringify({ missing, bad, devids, retries: stats.retries }));
  } else if (a.mode === "rpc") {
    writeFileSync(a.out, JSON.stringify(await client.rpc(a.command, a.args ?? {})));
  } else {
    throw new Error(`unknown mode ${a.mode}`);
  }
} finally {
  await client.close();
}
