// Bench helpers: bounded polling, timed worker pools, a patterned large-body stream and its checker, table layout.
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";

export const MiB = 1 << 20;
/** one random MiB, reused for every chunk of every big body (and sliced for small files) */
export const pattern = randomBytes(MiB);

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mib = (bytes: number) => `${fmt(bytes / MiB)} MiB`;

/** Calls fn every intervalMs until it returns something truthy; bounded by time and by attempt count. */
export async function until<T>(fn: () => Promise<T | false | null | undefined>, timeoutMs: number, what: string, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) * 2 + 1;
  let lastErr: unknown;
  for (let i = 0; i < maxAttempts && Date.now() < deadline; i++) {
    const v = await fn().catch((err) => void (lastErr = err));
    if (v) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`);
}

export interface PoolResult { ops: number; errors: number; seconds: number; firstError?: string }

/** Runs op(i) from `concurrency` workers until durationMs has passed or maxOps were started. */
export async function runPool(o: { concurrency: number; durationMs: number; maxOps: number }, op: (i: number) => Promise<unknown>): Promise<PoolResult> {
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  let next = 0, ops = 0, errors = 0, firstError: string | undefined;
  const worker = async () => {
    while (next < o.maxOps && performance.now() < deadline) {
      await op(next++).then(() => ops++, (err) => { errors++; firstError ??= (err as Error)?.message ?? String(err); });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { ops, errors, seconds: (performance.now() - t0) / 1000, firstError };
}

/** A stream of `size` bytes: the pattern repeated, in 1 MiB chunks, never more than a few MiB buffered. */
export function patternStream(size: number): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(MiB, size - sent);
      sent += n;
      this.push(n === MiB ? pattern : pattern.subarray(0, n));
    },
  });
}

/** Consumes a body, checking every byte against the pattern at its offset; returns the byte count. */
export async function consumeChecked(body: AsyncIterable<Buffer>): Promise<number> {
  let off = 0;
  for await (const chunk of body) {
    for (let p = 0; p < chunk.length; ) {
      const at = (off + p) % MiB;
      const n = Math.min(chunk.length - p, MiB - at);
      if (!chunk.subarray(p, p + n).equals(pattern.subarray(at, at + n))) throw new Error(`content mismatch near byte ${off + p}`);
      p += n;
    }
    off += chunk.length;
  }
  return off;
}

/** Plain aligned text: first and last columns left-aligned, the others right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const last = widths.length - 1;
  const line = (r: string[]) => r.map((cell = "", c) => (c === 0 || c === last ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("   ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("   ");
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}
