// REST file routes: streaming PUT/GET/HEAD with Range, metadata, listing, delete, rename and class change.
import type { Hono } from "hono";
import { Readable } from "node:stream";
import { MogileError } from "../../protocol/errors.ts";
import { Rename, UpdateFileClass } from "../../protocol/schemas.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { objectBody, readJson, validate, type GatewayEnv } from "./body.ts";

// keys may contain "/": the key parameter takes the rest of the path
const FILE = "/v1/domains/:domain/files/:key{.+}";

export function fileRoutes(app: Hono<GatewayEnv>, client: MogileClient): void {
  app.get("/v1/domains/:domain/files", async (c) => {
    const q = c.req.query();
    const limit = q.limit ? Number(q.limit) : undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new MogileError("bad_request", "limit must be a positive integer");
    try {
      return c.json(await client.list(c.req.param("domain"), { prefix: q.prefix, after: q.after || undefined, limit }));
    } catch (err) {
      // an empty page is not an error for HTTP callers
      if (err instanceof MogileError && err.code === "none_match") return c.json({ keys: [], key_count: 0, next_after: "" });
      throw err;
    }
  });

  app.put(FILE, async (c) => {
    const cl = c.req.header("content-length");
    const size = cl === undefined ? undefined : Number(cl);
    const incoming = c.env.incoming;
    const r = await client.put(c.req.param("domain"), c.req.param("key"), incoming, { class: c.req.query("class"), size });
    return c.json({ fid: r.fid, key: r.key, length: r.length }, 201);
  });

  app.on(["GET", "HEAD"], FILE, async (c) => {
    const domain = c.req.param("domain");
    const key = c.req.param("key");
    if (c.req.query("meta") !== undefined) {
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

  app.delete(FILE, async (c) => {
    await client.delete(c.req.param("domain"), c.req.param("key"));
    return c.body(null, 204);
  });

  // POST …/files/{key}/rename {"to": "new key"}
  app.post(`${FILE}/rename`, async (c) => {
    const body = await readJson(c);
    const to = typeof body === "object" && body !== null ? (body as { to?: unknown }).to : undefined;
    const a = validate(Rename, { domain: c.req.param("domain"), from_key: c.req.param("key"), to_key: to });
    await client.rename(a.domain, a.from_key, a.to_key);
    return c.json({ domain: a.domain, key: a.to_key, from: a.from_key });
  });

  // PATCH …/files/{key} {"class": "name"}: MogileFS updateclass
  app.patch(FILE, async (c) => {
    const a = await objectBody(c, UpdateFileClass, { domain: c.req.param("domain"), key: c.req.param("key") });
    await client.changeClass(a.domain, a.key, a.class);
    return c.json({ domain: a.domain, key: a.key, class: a.class });
  });
}
