// Active probe of a device (as MogileFS's monitor does): write a small test file and read it back.
import { randomInt } from "node:crypto";
import { httpRequest, drain, readText } from "../../protocol/http.ts";

export interface ProbeResult { ok: boolean; at: number; error?: string }

/** PUT a test file on the device and GET it back; ok only when the content matches. */
export async function probeDevice(baseUrl: string, devid: number, timeoutMs: number): Promise<ProbeResult> {
  const at = Date.now();
  const url = `${baseUrl}/dev${devid}/test-write/test-write-${randomInt(100)}`;
  const body = Buffer.from(`time=${Math.floor(at / 1000)} rand=${randomInt(1_000_000_000)}`);
  try {
    const put = await httpRequest(url, { method: "PUT", body, timeoutMs });
    if ((put.statusCode ?? 0) < 200 || (put.statusCode ?? 0) >= 300) {
      const text = await readText(put);
      return { ok: false, at, error: `PUT ${put.statusCode}: ${text.trim()}` };
    }
    await drain(put);
    const get = await httpRequest(url, { method: "GET", timeoutMs });
    const text = await readText(get);
    if (get.statusCode !== 200 || text !== body.toString()) return { ok: false, at, error: `read back ${get.statusCode}, ${text === body.toString() ? "same" : "different"} content` };
    return { ok: true, at };
  } catch (err) {
    return { ok: false, at, error: (err as Error).message };
  }
}
