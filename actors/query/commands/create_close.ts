// create_close: verify the uploaded bytes, then link the key to the new fid and queue replication.
import type { QueryContext } from "../context.ts";
import type { Parsed, Reply } from "../../../protocol/schemas.ts";
import { MogileError } from "../../../protocol/errors.ts";
import { fidPath } from "../../../protocol/paths.ts";
import { headLength } from "../../../protocol/http.ts";
import { fileId } from "../../runtime/mongo.ts";
import { releaseFid } from "./util.ts";
import { httpRequest, readText } from "../../../protocol/http.ts";

/** The digest of a stored copy, computed by its storage agent (`ALG:hex`). */
async function digestOf(url: string, alg: string): Promise<string> {
  const res = await httpRequest(`${url}?digest=${encodeURIComponent(alg)}`, { method: "GET", timeoutMs: 120_000 });
  const text = (await readText(res)).trim();
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${text}`);
  return text;
}

export async function createClose(ctx: QueryContext, a: Parsed<"create_close">): Promise<Reply<"create_close">> {
  let pathname: string;
  try { pathname = new URL(a.path).pathname; } catch { throw new MogileError("bogus_args", `path ${a.path} is not a URL`); }
  if (pathname !== fidPath(a.devid, a.fid)) throw new MogileError("bogus_args", `path ${a.path} is not fid ${a.fid} on device ${a.devid}`);

  // taking the upload record is the atomic step: a second close (or the reaper) finds nothing
  const upload = await ctx.uploads.take(a.fid);
  if (!upload) throw new MogileError("no_temp_file", `fid ${a.fid} is not an open upload (closed already, or expired)`);

  // from here on every refusal discards the upload's bytes
  const discard = async (err: MogileError): Promise<never> => {
    await ctx.enqueueDelete({ fid: a.fid, devids: upload.devids, reason: "discard" });
    throw err;
  };
  if (upload.domain !== a.domain) await discard(new MogileError("bogus_args", `fid ${a.fid} was opened in domain ${upload.domain}`));
  if (!upload.devids.includes(a.devid)) {
    await discard(new MogileError("invalid_destdev", `File uploaded to invalid dest ${a.devid}. Valid devices were: ${upload.devids.join(", ")}`));
  }
  if (a.key === "") {
    await ctx.enqueueDelete({ fid: a.fid, devids: upload.devids, reason: "discard" });
    return { fid: a.fid, key: "", length: 0 };
  }
  const url = ctx.devices.url(a.devid, a.fid) ?? a.path;
  // the HEAD check and the class lookup do not depend on each other
  const checksum = a.checksum ?? upload.checksum;
  const verify = a.checksumverify || upload.checksumverify === true;
  const [head, cls] = await Promise.all([
    headLength(url).then((n) => ({ n, err: null as Error | null }), (err: Error) => ({ n: null, err })),
    ctx.names.getClass(a.domain, upload.class),
  ]);
  if (head.err) {
    return discard(new MogileError("size_verify_error", `Expected: ${a.size ?? "?"}; actual: 0 (cantreach); path: ${url}; error: ${head.err.message}`));
  }
  const length = head.n;
  if (length === null) return discard(new MogileError("size_verify_error", `Expected: ${a.size ?? "?"}; actual: 0 (missing); path: ${url}`));
  if (a.size !== undefined && a.size !== length) return discard(new MogileError("size_mismatch", `Expected: ${a.size}; actual: ${length}; path: ${url}`));
  if (verify) {
    if (!checksum) return discard(new MogileError("invalid_checksum_format", "checksumverify needs a checksum"));
    const alg = checksum.slice(0, checksum.indexOf(":"));
    const actual = await digestOf(url, alg).catch((err: Error) => `unavailable (${err.message})`);
    if (actual.toLowerCase() !== checksum.toLowerCase()) {
      return discard(new MogileError("checksum_mismatch", `Expected: ${checksum}; actual: ${actual}; path: ${url}`));
    }
  }
  // kept only when it is of the class's hash type (MogileFS semantics)
  const stored = checksum && checksum.startsWith(`${cls.hashtype}:`) ? checksum.toUpperCase().replace(/^([^:]+):(.*)$/, (_m, alg: string, hex: string) => `${alg}:${hex.toLowerCase()}`) : null;

  if (cls.mindevcount > 1) {
    // queue replication before linking, so a crash between the two cannot leave the file
    // under-replicated forever (the replicator waits a little for a fid it cannot see yet)
    await ctx.enqueueReplicate({ fid: a.fid, domain: a.domain, key: a.key, class: cls.class, length, devids: [a.devid], reason: "new", ts: Date.now() }, `repl-${a.fid}`);
  }
  const old = await ctx.store.files.findOneAndUpdate(
    { _id: fileId(a.domain, a.key) },
    { $set: { fid: a.fid, domain: a.domain, key: a.key, class: cls.class, length, devids: [a.devid], checksum: stored, createdAt: new Date() } },
    { upsert: true, returnDocument: "before" },
  );
  if (old && old.fid !== a.fid) {
    // the key now names the new fid; the old version's bytes go (unless another key names it)
    await releaseFid(ctx, old.fid, old.devids, "replaced");
  }
  ctx.fileChanged(a.domain, a.key, a.fid);
  return { fid: a.fid, key: a.key, length };
}
