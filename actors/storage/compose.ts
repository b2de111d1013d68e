// A compose PUT on the storage side (see actors/runtime/compose.ts): the body is the signed list of
// sources; the file's bytes are read from them, in order, as one stream (flat memory), checked
// source by source, and stored like any PUT body (down the chain too).
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { httpRequest } from "../../protocol/http.ts";
import { COMPOSE_HEADER, COMPOSE_SIG_HEADER, MAX_COMPOSE_BODY, verifyCompose, type ComposeSource } from "../runtime/compose.ts";
import { readSmall, StorageError } from "./files.ts";
import type { RegisteredSources } from "./sources.ts";

export const isCompose = (req: IncomingMessage) => req.headers[COMPOSE_HEADER] !== undefined;

/** The composed body of a compose PUT to devid/fid, after its list and every source are checked. */
export async function composedBody(req: IncomingMessage, key: Buffer, devid: number, fid: number, sources: RegisteredSources | null): Promise<{ stream: Readable; length: number }> {
  const length = Number(req.headers[COMPOSE_HEADER]);
  const sig = req.headers[COMPOSE_SIG_HEADER];
  const cl = Number(req.headers["content-length"] ?? NaN);
  if (!Number.isSafeInteger(length) || length < 0 || typeof sig !== "string") throw new StorageError(400, "a compose PUT needs its length and signature headers");
  if (!(cl >= 0 && cl <= MAX_COMPOSE_BODY)) throw new StorageError(413, `a compose list is at most ${MAX_COMPOSE_BODY} bytes, with a Content-Length`);
  const list = verifyCompose(key, devid, fid, length, await readSmall(req, cl), sig);
  if (!list) throw new StorageError(403, "the compose list is not signed by the cluster, or does not add up to its length");
  if (!sources) throw new StorageError(503, "this storage node is not registered yet: it cannot check compose sources");
  // every source is a registered storage node's fid URL (no other address is ever fetched)
  for (const s of list) {
    const fids = new Set<number>();
    for (const url of s.urls) fids.add((await sources.check(url, null).catch((err: Error) => { throw new StorageError(400, err.message); })).fid);
    // the copies of ONE fid: failing over never mixes versions
    if (fids.size !== 1) throw new StorageError(400, "a compose source names copies of different fids");
  }
  return { stream: Readable.from(read(list), { objectMode: false }), length };
}

/** The first copy of a source that answers with its range (a copy on a dead disk is skipped). */
async function open(s: ComposeSource) {
  const errors: string[] = [];
  for (const url of s.urls) {
    try {
      const res = await httpRequest(url, { method: "GET", headers: { range: `bytes=${s.start}-${s.start + s.length - 1}` }, timeoutMs: 120_000 });
      if (res.statusCode === 206 || (res.statusCode === 200 && s.start === 0 && Number(res.headers["content-length"]) === s.length)) return { res, url };
      res.resume();
      errors.push(`${url.split("?")[0]} answered ${res.statusCode}`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  throw new StorageError(502, `no copy of a compose source could be read: ${errors.join("; ")}`);
}

async function* read(list: ComposeSource[]): AsyncGenerator<Buffer> {
  for (const s of list) {
    if (s.length === 0) continue;
    const { res, url } = await open(s);
    let n = 0;
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > s.length) break;
      yield c;
    }
    if (n !== s.length) throw new StorageError(502, `compose source ${url.split("?")[0]} gave ${n} of ${s.length} bytes`);
  }
}
