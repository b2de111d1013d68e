// Storage-to-storage writes for the S3 API: a new file made of ranges of existing ones (CopyObject,
// UploadPartCopy, CompleteMultipartUpload). create_open picks the devices; the first storage agent
// reads the sources itself (a compose PUT, signed with the cluster key) and passes the bytes down
// its chain; create_close records every copy from the agent's receipt. The S3 actor only sends the
// list: the bytes never pass through it.
import type { MogileClient } from "../../protocol/client.ts";
import { MogileError } from "../../protocol/errors.ts";
import { httpRequest, readText, drain } from "../../protocol/http.ts";
import { composeRequest, type ComposeSource } from "../runtime/compose.ts";
import { fromMogile, S3Error } from "./errors.ts";

/** A range of a file, which must still be version `fid` of its key (else `changed` is thrown). */
export interface Source { domain: string; key: string; fid: number; start: number; length: number }

/**
 * The readable copies of each source's file, with its range. A key that names another fid than the
 * one checked before (overwritten meanwhile) fails with `changed()`: bytes of one version are never
 * mixed with the metadata or lengths of another.
 */
export async function locate(client: MogileClient, sources: Source[], changed: (s: Source) => S3Error): Promise<ComposeSource[]> {
  const out: ComposeSource[] = [];
  for (const s of sources) {
    let p;
    try { p = await client.rpc("get_paths", { domain: s.domain, key: s.key, noverify: true, pathcount: 10 }); } catch (err) { throw fromMogile(err, s.domain, s.key); }
    if (p.fid !== s.fid || p.length < s.start + s.length) throw changed(s);
    if (!p.paths.length) throw new S3Error(503, "ServiceUnavailable", `${s.domain}/${s.key} has no readable copy`);
    out.push({ urls: p.paths, start: s.start, length: s.length });
  }
  return out;
}

/**
 * Store the concatenation of `sources` under domain/key (every copy the class wants, as a PUT
 * would); `meta` is computed from the stored bytes' MD5 (hex). Returns the MD5 and length.
 */
export async function composeInto(client: MogileClient, clusterKey: Buffer, domain: string, key: string, sources: ComposeSource[],
  opts: { class?: string; meta: (md5Hex: string) => Record<string, string> }): Promise<{ md5Hex: string; length: number }> {
  const size = sources.reduce((n, s) => n + s.length, 0);
  let open;
  try { open = await client.rpc("create_open", { domain, key, ...(opts.class ? { class: opts.class } : {}), multi_dest: true, size }); } catch (err) { throw fromMogile(err, domain, key); }
  const errors: string[] = [];
  for (const dest of open.dests) {
    const req = composeRequest(clusterKey, dest.devid, open.fid, sources);
    try {
      // a big composition takes as long as its bytes take to copy: allow ~20 MB/s at least
      const res = await httpRequest(dest.path, { method: "PUT", body: req.body, headers: { ...req.headers, "x-mogile-hashtype": "MD5" }, timeoutMs: 120_000 + Math.ceil(size / 20_000) });
      if (res.statusCode !== 201) {
        errors.push(`${res.statusCode} ${(await readText(res)).trim()}`);
        // a source that cannot be read fails on every destination alike: stop here
        if (res.statusCode === 502 || res.statusCode === 400 || res.statusCode === 403) break;
        continue;
      }
      await drain(res);
      const digest = String(res.headers["x-mogile-digest"] ?? "");
      if (!digest.startsWith("MD5:")) throw new Error(`the storage node gave no MD5 (${digest})`);
      const md5Hex = digest.slice(4).toLowerCase();
      const receipt = res.headers["x-mogile-receipt"];
      await client.rpc("create_close", {
        domain, key, fid: open.fid, devid: dest.devid, path: dest.path, size,
        ...(typeof receipt === "string" ? { receipt } : {}), meta: opts.meta(md5Hex),
      });
      return { md5Hex, length: size };
    } catch (err) {
      if (err instanceof MogileError) throw fromMogile(err, domain, key);
      errors.push((err as Error).message);
    }
  }
  throw new S3Error(503, "ServiceUnavailable", `could not compose ${domain}/${key} on any device: ${errors.join("; ")}`);
}
