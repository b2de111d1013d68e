// The HTTP facade (hono): REST routes over the SDK. Bytes stream through; nothing is buffered whole.
import { Hono, type Context } from "hono";
import type { HttpBindings } from "@hono/node-server";
import { Readable } from "node:stream";
import { z } from "zod";
import { MogileError, httpStatus } from "../../protocol/errors.ts";
import { CreateDomain } from "../../protocol/schemas.ts";
import type { MogileClient } from "../../protocol/client.ts";
import type { Logger } from "../runtime/log.ts";

type Env = { Bindings: HttpBindings };

const ClassBody = z.object({ class: z.string().min(1).max(50), mindevcount: z.coerce.number().int().min(1) });

async function jsonBody<T>(c: Context<Env>, schema: z.ZodType<T>): Promise<T> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new MogileError("bad_request", "request body is not valid JSON");
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new MogileError("bad_request", r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
  return r.data;
}

export function createApp(client: MogileClient, log: Logger): Hono<Env> {
  const app = new Hono<Env>();

  app.onError((err, c) => {
    const e = err instanceof MogileError ? err : new MogileError("failure", err.message);
    const status = httpStatus(e.code);
    if (status >= 500) log.warn("request failed", { method: c.req.method, path: c.req.path, code: e.code, err: e.message });
    return c.json(e.toJSON(), status as 400);
  });
  app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  app.get("/healthz", async (c) => {
    await client.rpc("noop", {}, 2_000);
    return c.json({ ok: true });
  });

  app.post("/v1/domains", async (c) => {
    const body = await jsonBody(c, CreateDomain);
    return c.json(await client.createDomain(body.domain), 201);
  });

  app.get("/v1/domains", async (c) => c.json(await client.rpc("get_domains", {})));

  app.get("/v1/admin/failed-jobs", async (c) => {
    const kind = c.req.query("kind");
    if (kind !== undefined && kind !== "replicate" && kind !== "delete") throw new MogileError("bad_request", "kind is replicate or delete");
    return c.json(await client.rpc("failed_jobs", { kind }));
  });

  app.post("/v1/domains/:domain/classes", async (c) => {
    const body = await jsonBody(c, ClassBody);
    return c.json(await client.createClass(c.req.param("domain"), body.class, body.mindevcount), 201);
  });

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

  app.put("/v1/domains/:domain/files/:key{.+}", async (c) => {
    const cl = c.req.header("content-length");
    const size = cl === undefined ? undefined : Number(cl);
    const incoming = c.env.incoming;
    const r = await client.put(c.req.param("domain"), c.req.param("key"), incoming, { class: c.req.query("class"), size });
    return c.json({ fid: r.fid, key: r.key, length: r.length }, 201);
  });

  app.on(["GET", "HEAD"], "/v1/domains/:domain/files/:key{.+}", async (c) => {
    const domain = c.req.param("domain");
    const key = c.req.param("key");
    if (c.req.query("meta") !== undefined) {
      const [info, paths] = await Promise.all([client.fileInfo(domain, key), client.getPaths(domain, key, { pathcount: 10 })]);
      return c.json({ ...info, paths: paths.paths });
    }
    if (c.req.method === "HEAD") {
      const p = await client.getPaths(domain, key);
      return c.body(null, 200, { "content-length": String(p.length), "accept-ranges": "bytes" });
    }
    const r = await client.get(domain, key, { range: c.req.header("range") });
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(r.contentLength),
      "accept-ranges": "bytes",
    };
    if (r.contentRange) headers["content-range"] = r.contentRange;
    return new Response(Readable.toWeb(r.body) as ReadableStream, { status: r.status, headers });
  });

  app.delete("/v1/domains/:domain/files/:key{.+}", async (c) => {
    await client.delete(c.req.param("domain"), c.req.param("key"));
    return c.body(null, 204);
  });

  return app;
}
