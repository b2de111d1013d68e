// Test helpers: wait for a condition (never a bare sleep), temp dirs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export async function until<T>(fn: () => Promise<T | false | null | undefined> | T | false | null | undefined, timeoutMs: number, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`);
}

export const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), `mogile-${prefix}-`));
