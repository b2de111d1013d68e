// Unit: the gateway's OpenAPI document (/v1/openapi.json) and reference page (/v1/docs), in-process
// (app.request, no cluster): valid OpenAPI 3.1, in step with the routes and their guards, and a
// response checker that refuses what the document does not allow.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import type { MogileClient } from "../protocol/client.ts";
import { requests } from "../protocol/schemas.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { createApp } from "../actors/gateway/app.ts";
import { Authenticator } from "../actors/gateway/auth.ts";
import { ROUTE_DOCS } from "../actors/gateway/openapi-routes.ts";
import { openApiPath } from "../actors/gateway/openapi.ts";
import { openApiProblems, ResponseChecker, unresolvedRefs } from "./helpers/openapi.ts";

type Json = { [k: string]: any };

/** an app over a tracker that knows no keys and no anonymous domains: only the documentation is served */
function makeApp() {
  const tracker = { rpc: async (command: string) => (command === "get_domains" ? { domains: [] } : {}) };
  const auth = new Authenticator(tracker as unknown as Pick<MogileClient, "rpc">, { clusterKey: randomBytes(32), keyCacheMs: 0, domainCacheMs: 0 });
  // a cluster with no actor processes to scrape: the metrics routes exist, with nothing in them
  const metrics = { scrape: async () => ({ replies: [], missing: [], seconds: 0 }) };
  return createApp(tracker as unknown as MogileClient, createLogger({ role: "test" }, "error"), { auth, metrics, limits: { maxBodyBytes: 1 << 20, maxJsonBytes: 1 << 16 } });
}

const t = suite<{ app: ReturnType<typeof makeApp>; doc: Json }>("openapi");
t.before(async (ctx) => {
  ctx.app = makeApp();
  const r = await ctx.app.request("/v1/openapi.json");
  assert.is(r.status, 200);
  ctx.doc = await r.json();
});

t("openapi - the document is open, valid OpenAPI 3.1 (the official schema), every $ref resolves, every path parameter is declared", ({ doc }) => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.equal(openApiProblems(doc), []);
  assert.ok(Object.keys(doc.paths).length > 60, "REST routes and one path per command");
  assert.ok(doc.components.schemas.Error404 && doc.components.securitySchemes.gatewayKey);
  // the check itself catches a dangling ref
  assert.equal(unresolvedRefs({ a: { $ref: "#/components/schemas/Nope" } }), ["#/components/schemas/Nope"]);
  assert.ok(openApiProblems({ ...doc, openapi: "3.0.3" }).length > 0, "a 3.0 document is refused");
});

t("openapi - every route is documented and every documented operation is served; every command has its own path", ({ app, doc }) => {
  const served = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    served.add(`${r.method} ${r.path}`);
  }
  const undocumented = [...served].filter((k) => k !== "POST /v1/rpc/:command" && !ROUTE_DOCS[k]);
  assert.equal(undocumented, [], "routes missing from actors/gateway/openapi-routes.ts");
  assert.equal(Object.keys(ROUTE_DOCS).filter((k) => !served.has(k)), [], "documented routes that are not served");
  for (const k of served) {
    if (k === "POST /v1/rpc/:command") continue;
    const [method, path] = k.split(" ");
    const op = doc.paths[openApiPath(path).path]?.[method.toLowerCase()];
    assert.ok(op && !op["x-mogile-undocumented"], `${k} in the document`);
  }
  const commands = Object.keys(requests).filter((c) => c !== "key_secret");
  assert.equal(commands.filter((c) => !doc.paths[`/v1/rpc/${c}`]?.post), [], "commands without a path");
  assert.not.ok(doc.paths["/v1/rpc/key_secret"], "key_secret is never served over HTTP");
  assert.ok(doc.paths["/v1/rpc/{command}"].post.responses["404"], "an unknown command is documented as 404");
});

t("openapi - each operation's security is what the gateway does: without a key, 401 exactly where the document asks for one", async ({ app, doc }) => {
  const sample: Record<string, string> = { domain: "a", key: "k", class: "c", host: "h", devid: "1", command: "noop" };
  let checked = 0;
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item)) {
      const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => sample[name]);
      // arguments that parse (a command's arguments are read before its domain is checked)
      const body = method === "post" || method === "patch" || method === "put" ? JSON.stringify({ domain: "a", key: "k" }) : undefined;
      const r = await app.request(url, { method: method.toUpperCase(), body, headers: body ? { "content-type": "application/json" } : {} });
      const open = op.security.length === 0 || op.security.some((s: Json) => Object.keys(s).length === 0);
      // anonymous reads need a domain with anonymous_read: this tracker has none
      const anonymousRead = op.security.some((s: Json) => Object.keys(s).length === 0);
      assert.is(r.status === 401, !open || anonymousRead, `${method.toUpperCase()} ${url}: ${r.status}`);
      if (r.status === 401) assert.ok(op.responses["401"], `${method} ${path} documents 401`);
      checked++;
    }
  }
  assert.ok(checked > 60);
  // a key that is sent is checked even where none is needed
  assert.is((await app.request("/v1/openapi.json", { headers: { authorization: "Bearer nonsense" } })).status, 401);
  assert.is((await app.request("/healthz", { headers: { authorization: "Bearer nonsense" } })).status, 200);
});

t("openapi - the checker accepts what the document allows and refuses a wrong status, body, field, error code, header or media type", ({ doc }) => {
  const c = new ResponseChecker(doc);
  const json = { "content-type": "application/json" };
  const h = (o: Record<string, string> = {}) => new Headers(o);
  const put = "http://gw/v1/domains/web/files/a%2Fb/c";
  const ok = (method: string, url: string, status: number, headers: Headers, body?: unknown) =>
    assert.equal(c.problems(method, url, status, headers, body === undefined ? undefined : JSON.stringify(body)), [], `${method} ${url} ${status}`);
  const bad = (method: string, url: string, status: number, headers: Headers, body: unknown, why: RegExp) => {
    const p = c.problems(method, url, status, headers, body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body));
    assert.ok(p.length > 0, `expected a problem (${why})`);
    assert.match(p.join("\n"), why);
  };
  ok("PUT", put, 201, h(json), { fid: 1, key: "a/b/c", length: 3 });
  ok("POST", "http://gw/v1/rpc/create_domain", 200, h(json), { domain: "x" });
  ok("GET", "http://gw/v1/domains/web/files/k", 200, h({ "content-type": "application/octet-stream", "content-length": "3" }));
  ok("GET", "http://gw/v1/domains/web/files/k", 416, h({ ...json, "content-range": "bytes */3" }), { error: "range_not_satisfiable", message: "no" });
  ok("DELETE", "http://gw/v1/domains/web/files/k", 204, h());
  ok("GET", "http://gw/v1/nothing/here", 404, h(json), { error: "not_found", message: "no route" });
  ok("POST", "http://gw/v1/rpc/create_domain", 400, h(json), { error: "no_domain", message: "m", issues: [{ path: "domain", code: "invalid_type", message: "m" }] });

  bad("PUT", put, 201, h(json), { fid: "1", key: "k", length: 3 }, /body\/fid must be integer/);
  bad("PUT", put, 201, h(json), { fid: 1, key: "k" }, /must have required property 'length'/);
  bad("PUT", put, 201, h(json), { fid: 1, key: "k", length: 3, extra: true }, /additional properties \(extra\)/);
  bad("PUT", put, 200, h(json), { fid: 1, key: "k", length: 3 }, /status not documented/);
  bad("PUT", put, 201, h(json), "not json", /not JSON/);
  bad("PUT", put, 201, h({ "content-type": "text/plain" }), undefined, /content-type text\/plain not documented/);
  bad("POST", "http://gw/v1/rpc/create_domain", 404, h(json), { error: "domain_exists", message: "m" }, /body\/error must be equal to one of the allowed values/);
  bad("GET", "http://gw/v1/domains/web/files/k", 206, h({ "content-type": "application/octet-stream" }), undefined, /required header content-range missing/);
  bad("GET", "http://gw/v1/domains/web/files/k", 401, h(json), { error: "unauthorized", message: "m" }, /required header www-authenticate missing/);
  bad("GET", "http://gw/v1/nothing/here", 200, h(json), {}, /no operation in the document/);
  bad("GET", "http://gw/v1/nothing/here", 404, h(json), { error: "not_found" }, /no operation in the document/);
});

t("openapi - /v1/docs is one self-contained page listing every operation and schema", async ({ app, doc }) => {
  const r = await app.request("/v1/docs");
  assert.is(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  const html = await r.text();
  assert.not.match(html, /<script|<link|<img|<iframe|@import|url\(/i, "nothing runs or is fetched");
  assert.not.match(html, /(src|href)="(https?:)?\/\//i, "no link off the page but to the document");
  for (const path of Object.keys(doc.paths)) assert.ok(html.includes(`<code>${path.replace(/&/g, "&#38;")}</code>`), path);
  for (const name of Object.keys(doc.components.schemas)) assert.ok(html.includes(`id="schema-${name}"`), name);
  assert.ok(html.includes('href="openapi.json"'));
});

t.run();
