// Integration: the HTTP facade (gateway actor) against a real cluster.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { fidPath } from "../protocol/paths.ts";
import { keyFetch } from "./helpers/gateway.ts";
import { openApiProblems } from "./helpers/openapi.ts";

const t = suite<{ tc: TestCluster; url: string }>("http");
/** fetch with the cluster's first admin key (the gateway refuses requests without a key) */
let gw: typeof fetch;
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("http");
  ctx.url = ctx.tc.cluster.httpUrl;
  gw = keyFetch(ctx.url, ctx.tc.cluster.adminKey);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const enc = encodeURIComponent;

t("http - create a domain and a class", async ({ url }) => {
  let r = await gw(`${url}/v1/domains`, json({ domain: "web" }));
  assert.is(r.status, 201);
  assert.equal(await r.json(), { domain: "web" });
  r = await gw(`${url}/v1/domains`, json({ domain: "web" }));
  assert.is(r.status, 409);
  assert.is((await r.json()).error, "domain_exists");
  r = await gw(`${url}/v1/domains/web/classes`, json({ class: "thumbs", mindevcount: 1 }));
  assert.is(r.status, 201);
  assert.equal(await r.json(), { domain: "web", class: "thumbs", mindevcount: 1 });
});

t("http - put, read (whole, ranged, HEAD, meta), list and delete a key containing slashes", async ({ tc, url }) => {
  const key = "users/42/avatar.png";
  const body = randomBytes(200_000);
  let r = await gw(`${url}/v1/domains/web/files/${enc(key)}`, { method: "PUT", body });
  assert.is(r.status, 201);
  const put = await r.json();
  assert.is(put.length, body.length);
  assert.ok(put.fid > 0);

  r = await gw(`${url}/v1/domains/web/files/${enc(key)}`);
  assert.is(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(body));

  r = await gw(`${url}/v1/domains/web/files/${enc(key)}`, { headers: { range: "bytes=100-199" } });
  assert.is(r.status, 206);
  assert.is(r.headers.get("content-range"), `bytes 100-199/${body.length}`);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(body.subarray(100, 200)));

  r = await gw(`${url}/v1/domains/web/files/${enc(key)}`, { headers: { range: `bytes=${body.length}-` } });
  assert.is(r.status, 416);
  assert.is(r.headers.get("content-range"), `bytes */${body.length}`);
  await r.arrayBuffer();

  r = await gw(`${url}/v1/domains/web/files/${enc(key)}`, { method: "HEAD" });
  assert.is(r.status, 200);
  assert.is(r.headers.get("content-length"), String(body.length));

  const meta = await until(async () => {
    const m = await (await gw(`${url}/v1/domains/web/files/${enc(key)}?meta=1`)).json();
    // both copies recorded and both devices seen alive (a heartbeat late under load hides one)
    return m.devcount === 2 && m.paths?.length === 2 && m;
  }, 20_000, "2 copies");
  assert.is(meta.fid, put.fid);
  assert.is(meta.class, "default");
  assert.is(meta.length, body.length);
  assert.is(meta.paths.length, 2);
  assert.ok(meta.paths.every((p: string) => p.startsWith("http://")));

  r = await gw(`${url}/v1/domains/web/files?prefix=users/`);
  assert.equal((await r.json()).keys, [key]);

  r = await gw(`${url}/v1/domains/web/files/${enc(key)}`, { method: "DELETE" });
  assert.is(r.status, 204);
  r = await gw(`${url}/v1/domains/web/files/${enc(key)}`);
  assert.is(r.status, 404);
  assert.is((await r.json()).error, "unknown_key");
  const files = meta.devids ?? [];
  await until(() => files.every((d: number) => {
    const host = tc.cluster.storage.find((s) => s.devids.includes(d))!;
    return !existsSync(path.join(host.root, fidPath(d, meta.fid)));
  }), 20_000, "bytes gone");
});

t("http - a chunked upload without Content-Length, and the class query parameter", async ({ url }) => {
  const parts = [randomBytes(70_000), randomBytes(70_000)];
  const stream = new ReadableStream({ start(c) { for (const p of parts) c.enqueue(p); c.close(); } });
  let r = await gw(`${url}/v1/domains/web/files/chunked?class=thumbs`, { method: "PUT", body: stream, duplex: "half" } as RequestInit);
  assert.is(r.status, 201);
  assert.is((await r.json()).length, 140_000);
  r = await gw(`${url}/v1/domains/web/files/chunked?meta=1`);
  const meta = await r.json();
  assert.is(meta.class, "thumbs");
  assert.is(meta.devcount, 1);
  r = await gw(`${url}/v1/domains/web/files/chunked`);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(Buffer.concat(parts)));
});

t("http - bad input gets a clear error and changes nothing", async ({ url }) => {
  let r = await gw(`${url}/v1/domains`, { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" });
  assert.is(r.status, 400);
  assert.is((await r.json()).error, "bad_request");
  r = await gw(`${url}/v1/domains`, json({ nodomain: 1 }));
  assert.is(r.status, 400);
  r = await gw(`${url}/v1/domains/web/classes`, json({ class: "c", mindevcount: 0 }));
  assert.is(r.status, 400);
  r = await gw(`${url}/v1/domains/nope/files/k`, { method: "PUT", body: "x" });
  assert.is(r.status, 404);
  assert.is((await r.json()).error, "unreg_domain");
  r = await gw(`${url}/v1/domains/web/files/k?class=nope`, { method: "PUT", body: "x" });
  assert.is((await r.json()).error, "unreg_class");
  r = await gw(`${url}/v1/domains/web/files/missing`);
  assert.is(r.status, 404);
  assert.is((await r.json()).error, "unknown_key");
  r = await gw(`${url}/v1/domains/web/files/missing`, { method: "DELETE" });
  assert.is(r.status, 404);
  r = await gw(`${url}/v1/domains/web/files?limit=zero`);
  assert.is(r.status, 400);
  r = await gw(`${url}/v1/domains/web/files?prefix=k`);
  assert.equal((await r.json()).keys, [], "nothing was stored under k");
});

t("http - /v1/openapi.json and the /v1/docs page are served without a key; the document is valid OpenAPI 3.1", async ({ url }) => {
  const r = await fetch(`${url}/v1/openapi.json`);
  assert.is(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  const doc = await r.json();
  assert.equal(openApiProblems(doc), []);
  assert.ok(doc.paths["/v1/domains/{domain}/files/{key}"].put, "the file routes are in it");
  const page = await fetch(`${url}/v1/docs`);
  assert.is(page.status, 200);
  assert.match(await page.text(), /<h1>mogile HTTP facade/);
});

t.run();
