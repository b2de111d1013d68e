// REST file routes: streaming PUT/GET/HEAD with Range, metadata, listing, delete, rename and class change.
// Reads need read access to the domain; everything that changes a file needs write access.
import type { Hono } from "hono";
import { Readable, Transform } from "node:stream";
import { MogileError } from "../../protocol/errors.ts";
import { Rename, UpdateFileClass } from "../../protocol/schemas.ts";
import { FileClassBody, GetFileQuery, ListFilesQuery, PutFileQuery, RenameBody } from "../../protocol/rest.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { objectBody, tooLarge, validate, type GatewayEnv } from "./body.ts";
import { need } from "./auth.ts";

// keys may contain "/": the key parameter takes the rest of the path
const FILE = "/v1/domains/:domain/files/:key{.+}";

export function fileRoutes(app: Hono<GatewayEnv>, client: MogileClient): void {
  app.get("/v1/domains/:domain/files", need.domain("read"), async (c) => {
    const q = validate(ListFilesQuery, c.req.query());
    try {
      return c.json(await client.list(c.req.param("domain"), { prefix: q.prefix, after: q.after || undefined, limit: q.limit }));
    } catch (err) {
      // an empty page is not an error for HTTP callers
      if (err instanceof MogileError && err.code === "none_match") return c.json({ keys: [], key_count: 0, next_after: "" });
      throw err;
    }
  });

  app.put(FILE, need.domain("write"), async (c) => {
    const q = validate(PutFileQuery, c.req.query());
    const max = c.get("limits").maxBodyBytes;
    const cl = c.req.header("content-length");
    const size = cl === undefined ? undefined : Number(cl);
    // refused before anything is opened: a declared length over the limit
    if (size !== undefined && size > max) throw tooLarge(max);
    const incoming = c.env.incoming;
    // node's parser never delivers more than a declared Content-Length; a chunked body is counted
    const counted = size === undefined ? limited(incoming, max) : null;
    try {
      const r = await client.put(c.req.param("domain"), c.req.param("key"), counted?.body ?? incoming, { class: q.class, size });
      return c.json({ fid: r.fid, key: r.key, length: r.length }, 201);
    } catch (err) {
      // the upload was cut off at the limit (the storage PUT failed for that reason); nothing was linked
      if (counted?.exceeded()) throw tooLarge(max);
      throw err;
    }
  });

  app.on(["GET", "HEAD"], FILE, need.domain("read"), async (c) => {
    const domain = c.req.param("domain");
    const key = c.req.param("key");
    const q = validate(GetFileQuery, c.req.query());
    // ?explain: why each copy is where it is, and whether the file meets its class policy
    if (q.explain !== undefined) return c.json(await client.rpc("explain", { domain, key }));
    if (q.meta !== undefined) {
      const [info, paths] = await Promise.all([client.fileInfo(domain, key), client.getPaths(domain, key, { pathcount: 10 })]);
      return c.json({ ...info, paths: paths.paths });
    }
    if (c.req.method === "HEAD") {
      const p = await client.getPaths(domain, key);
      // no readable copy: the GET would fail, so HEAD says so too
      if (p.paths.length === 0) throw new MogileError("read_failed", `${domain}/${key} has no readable copy`);
      return c.body(null, 200, { "content-length": String(p.length), "accept-ranges": "bytes" });
    }
    let r;
    try {
      r = await client.get(domain, key, { range: c.req.header("range") });
    } catch (err) {
      if (err instanceof MogileError && err.code === "range_not_satisfiable") {
        const p = await client.getPaths(domain, key);
        return c.json(err.toJSON(), 416, { "content-range": `bytes */${p.length}` });
      }
      throw err;
    }
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(r.contentLength),
      "accept-ranges": "bytes",
    };
    if (r.contentRange) headers["content-range"] = r.contentRange;
    return new Response(Readable.toWeb(r.body) as ReadableStream, { status: r.status, headers });
  });

  app.delete(FILE, need.domain("write"), async (c) => {
    await client.delete(c.req.param("domain"), c.req.param("key"));
    return c.body(null, 204);
  });

  // POST …/files/{key}/rename {"to": "new key"}
  app.post(`${FILE}/rename`, need.domain("write"), async (c) => {
    const { to } = await objectBody(c, RenameBody);
    const a = validate(Rename, { domain: c.req.param("domain"), from_key: c.req.param("key"), to_key: to });
    await client.rename(a.domain, a.from_key, a.to_key);
    return c.json({ domain: a.domain, key: a.to_key, from: a.from_key });
  });

  // PATCH …/files/{key} {"class": "name"}: MogileFS updateclass
  app.patch(FILE, need.domain("write"), async (c) => {
    const { class: cls } = await objectBody(c, FileClassBody);
    const a = validate(UpdateFileClass, { domain: c.req.param("domain"), key: c.req.param("key"), class: cls });
    await client.changeClass(a.domain, a.key, a.class);
    return c.json({ domain: a.domain, key: a.key, class: a.class });
  });
}

/**
 * The request body, failing once more than `max` bytes have passed (memory stays flat: chunks are
 * handed on). `pipe`, not `pipeline`: the request is left open so the 413 can still be answered.
 */
function limited(incoming: Readable, max: number): { body: Readable; exceeded(): boolean } {
  let n = 0;
  let over = false;
  const body = new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      if (n > max) {
        over = true;
        incoming.unpipe(body);
        return done(tooLarge(max));
      }
      done(null, chunk);
    },
  });
  incoming.on("error", (err) => body.destroy(err));
  incoming.pipe(body);
  return { body, exceeded: () => over };
}
