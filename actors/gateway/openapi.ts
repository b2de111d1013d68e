// The HTTP facade's OpenAPI 3.1 document, generated from the app's own routes and guards and from
// the protocol's zod schemas (the ones the handlers validate with), so it cannot drift from the code.
// Served at GET /v1/openapi.json, with a reference page rendered from it at GET /v1/docs.
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { Hono } from "hono";
import * as requestModule from "../../protocol/schemas.ts";
import * as replyModule from "../../protocol/replies.ts";
import * as restModule from "../../protocol/rest.ts";
import { requests, UNSUPPORTED_COMMANDS, type Command } from "../../protocol/schemas.ts";
import { replies } from "../../protocol/replies.ts";
import { errorBody } from "../../protocol/rest.ts";
import { GUARDS, need, type GuardNeed } from "./auth.ts";
import { rpcNeed } from "./access.ts";
import { ROUTE_DOCS, RPC_SUMMARIES, type ReplyDoc, type RouteDoc } from "./openapi-routes.ts";
import { renderReference } from "./reference.ts";
import type { GatewayEnv } from "./body.ts";

export type Json = { [k: string]: unknown };
/** what the generator reads of a hono route (`app.routes`) */
export interface RouteLike { method: string; path: string; handler: unknown }

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
const RPC_ROUTE = "/v1/rpc/:command";
/** never served over HTTP whoever asks (rpc.ts): listed only under POST /v1/rpc/{command} */
const REFUSED_COMMANDS = new Set<string>(["key_secret", ...UNSUPPORTED_COMMANDS]);

/** Every error status the facade answers with JSON, and its name under components.responses. */
const ERROR_RESPONSES: Record<number, { name: string; description: string; headers?: Json }> = {
  400: { name: "BadRequest", description: "the body, a parameter or the command's arguments are invalid, or the cluster refused the request" },
  401: {
    name: "Unauthorized", description: "no key where one is needed, or a key that is unknown, revoked or has another secret",
    headers: { "www-authenticate": { description: "`Bearer realm=\"mogile\"`", required: true, schema: { type: "string" } } },
  },
  403: { name: "Forbidden", description: "the key lacks the scope this request needs" },
  404: { name: "NotFound", description: "no such domain, class, key, host, device or command" },
  409: { name: "Conflict", description: "it exists already, or something still depends on it" },
  413: { name: "PayloadTooLarge", description: "the body is over the gateway's limit (JSON bodies and uploads have one each)" },
  416: {
    name: "RangeNotSatisfiable", description: "the Range lies outside the file",
    headers: { "content-range": { description: "`bytes */<length>`", required: true, schema: { type: "string" } } },
  },
  500: { name: "ServerError", description: "an unexpected failure" },
  501: { name: "NotImplemented", description: "a command that is not supported yet" },
  503: { name: "Unavailable", description: "no tracker answers, or no device could take or give the bytes" },
  504: { name: "Timeout", description: "the cluster did not answer in time" },
};

const SECURITY_DESCRIPTION = [
  "A gateway key, `Authorization: Bearer <access key id>:<secret>` (`mogile key add`).",
  "Each operation names the role it needs: `cluster-admin`; `domain:read`, `domain:write` or `domain:admin` on the",
  "domain the request names (write implies read, admin implies write; a cluster-admin key has every role); no",
  "role: any valid key. An operation whose security also lists `{}` may be called without a key when its domain",
  "has `anonymous_read` on. A key that is sent is always checked, even where none is needed.",
].join(" ");

const DESCRIPTION = [
  "MogileFS as an HTTP API: files by key (streamed, Range honoured), listing, domains and classes, hosts and devices,",
  "and every tracker command at `POST /v1/rpc/{command}` with the same arguments and replies as over NATS.",
  "Errors are JSON `{\"error\": \"<MogileFS code>\", \"message\": \"…\"}` with one code → status mapping; a request that",
  "did not validate also lists its `issues`.",
].join(" ");

/** `KeyScopeSchema` → `KeyScope`, `fileMeta` → `FileMeta` */
const componentName = (exported: string) => exported[0].toUpperCase() + exported.slice(1).replace(/Schema$/, "");

/** Names every exported object schema of the protocol modules after its export (the components). */
function namedSchemas(errors: Map<number, z.ZodType>): Map<z.ZodType, string> {
  const names = new Map<z.ZodType, string>();
  const taken = new Map<string, z.ZodType>();
  const add = (schema: z.ZodType, id: string) => {
    if (names.has(schema)) return;
    if (taken.has(id)) throw new Error(`two schemas would be named ${id} in the OpenAPI document`);
    names.set(schema, id);
    taken.set(id, schema);
  };
  for (const mod of [restModule, replyModule, requestModule] as Record<string, unknown>[]) {
    for (const [exported, value] of Object.entries(mod)) {
      if (value instanceof z.ZodObject || value instanceof z.ZodRecord || value instanceof z.ZodUnion) add(value, componentName(exported));
    }
  }
  for (const [status, schema] of errors) add(schema, `Error${status}`);
  return names;
}

/** JSON Schema of a zod schema as a request takes it (`io: input`: defaults optional, unknown fields allowed). */
function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _, ...out } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;
  return out;
}

/** Hono's `:name` and `:name{regex}` → OpenAPI's `{name}`; `{.+}` marks a parameter that may contain `/`. */
export function openApiPath(honoPath: string): { path: string; params: { name: string; slashes: boolean }[] } {
  const params: { name: string; slashes: boolean }[] = [];
  const path = honoPath.replace(/:(\w+)(\{[^}]*\})?/g, (_m, name: string, re?: string) => {
    params.push({ name, slashes: re === "{.+}" });
    return `{${name}}`;
  });
  return { path, params };
}

function security(n: GuardNeed | undefined): Json[] {
  if (!n || n.kind === "open") return [];
  if (n.kind === "cluster" || n.kind === "command") return [{ gatewayKey: ["cluster-admin"] }];
  if (n.kind === "key") return [{ gatewayKey: [] }];
  // a domain with anonymous_read is readable without a key
  return n.access === "read" ? [{ gatewayKey: ["domain:read"] }, {}] : [{ gatewayKey: [`domain:${n.access}`] }];
}

/** The OpenAPI document of an app: its routes (`app.routes`) with their guards, described by ROUTE_DOCS. */
export function openApiDocument(routes: readonly RouteLike[]): Json {
  const errorSchemas = new Map(Object.keys(ERROR_RESPONSES).map((s) => [Number(s), errorBody(Number(s)) as z.ZodType]));
  const names = namedSchemas(errorSchemas);
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of names) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, { io: "input", unrepresentable: "any", uri: (id) => `#/components/schemas/${id}` }).schemas as Record<string, Json>;
  const schemas: Record<string, Json> = {};
  for (const [id, { $schema: _s, $id: _i, ...s }] of Object.entries(converted)) schemas[id] = s;
  const ref = (schema: z.ZodType): Json => {
    const id = names.get(schema);
    return id ? { $ref: `#/components/schemas/${id}` } : jsonSchema(schema);
  };
  const usedErrors = new Set<number>();
  const errorRefs = (statuses: Iterable<number>): Json => {
    const out: Json = {};
    for (const s of [...new Set(statuses)].sort()) {
      usedErrors.add(s);
      out[String(s)] = { $ref: `#/components/responses/${ERROR_RESPONSES[s].name}` };
    }
    return out;
  };
  const reply = (r: ReplyDoc): Json => {
    const content: Json = {};
    if (r.bytes) content["application/octet-stream"] = {};
    if (r.json) content["application/json"] = { schema: ref(r.json) };
    if (r.media) content[r.media] = {};
    return { description: r.description, ...(r.headers ? { headers: r.headers } : {}), ...(Object.keys(content).length ? { content } : {}) };
  };

  const paths: Record<string, Json> = {};
  const put = (path: string, method: string, op: Json) => { (paths[path] ??= {})[method.toLowerCase()] = op; };

  // one entry per method and path; a route's guard is one of its handlers
  const byRoute = new Map<string, { method: string; path: string; guard?: GuardNeed }>();
  for (const r of routes) {
    if (r.method === "ALL") continue; // middleware
    const k = `${r.method} ${r.path}`;
    const e = byRoute.get(k) ?? { method: r.method, path: r.path };
    e.guard ??= typeof r.handler === "function" ? GUARDS.get(r.handler) : undefined;
    byRoute.set(k, e);
  }

  for (const [k, { method, path: honoPath, guard }] of byRoute) {
    if (honoPath === RPC_ROUTE) {
      rpcPaths(put, ref, errorRefs);
      continue;
    }
    const doc: RouteDoc | undefined = ROUTE_DOCS[k];
    const { path, params } = openApiPath(honoPath);
    if (!doc) {
      // served all the same; test/openapi.test.ts fails until the route is described
      put(path, method, { summary: "(undocumented)", "x-mogile-undocumented": true, responses: { default: { description: "undocumented" } } });
      continue;
    }
    // a parameter's description is the parameter's, not its schema's
    const parameter = (name: string, where: "path" | "query", required: boolean, { description, ...schema }: Json, extra: Json = {}): Json =>
      ({ name, in: where, required, ...(description ? { description } : {}), schema, ...extra });
    const parameters: Json[] = params.map(({ name, slashes }) =>
      parameter(name, "path", true, jsonSchema(doc.params?.[name] ?? z.string()), slashes ? { "x-mogile-slashes": true } : {}));
    if (doc.query) {
      const q = jsonSchema(doc.query) as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) parameters.push(parameter(name, "query", q.required?.includes(name) ?? false, schema));
    }
    const v1 = path.startsWith("/v1/");
    const open = !guard || guard.kind === "open";
    // every route may fail in the cluster; /v1 checks a key that is sent; a guarded route may refuse it
    const errors = [500, 503, 504, ...(doc.errors ?? [])];
    // /v1 checks a key that is sent; any guarded route (also /metrics) refuses a missing one
    if (v1 || !open) errors.push(401);
    if (v1 && !open) errors.push(400);
    if (guard && guard.kind !== "open" && guard.kind !== "key") errors.push(403);
    if (doc.body) errors.push(400, 413);
    const responses: Json = {};
    for (const [status, r] of Object.entries(doc.ok)) responses[status] = reply(r);
    Object.assign(responses, errorRefs(errors));
    const requestBody = doc.body === undefined ? undefined : doc.body === "bytes"
      ? { required: true, description: "the file's bytes", content: { "application/octet-stream": {} } }
      : { required: true, content: { "application/json": { schema: ref(doc.body) } } };
    const anonymous = guard?.kind === "domain" && guard.access === "read";
    put(path, method, {
      operationId: doc.operationId,
      tags: [doc.tag],
      summary: doc.summary,
      ...(doc.description || anonymous ? { description: [doc.description, anonymous ? "Without a key when the domain has `anonymous_read` on." : ""].filter(Boolean).join(" ") } : {}),
      security: security(guard),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    });
  }

  const responses: Json = {};
  for (const s of [...usedErrors].sort()) {
    const e = ERROR_RESPONSES[s];
    responses[e.name] = { description: e.description, ...(e.headers ? { headers: e.headers } : {}), content: { "application/json": { schema: { $ref: `#/components/schemas/Error${s}` } } } };
  }
  const document: Json = {
    openapi: "3.1.0",
    info: { title: "mogile HTTP facade", version: VERSION, description: DESCRIPTION },
    servers: [{ url: "/" }],
    security: [{ gatewayKey: [] }],
    tags: [
      { name: "files", description: "files by key: store, read, list, delete, rename, change class" },
      { name: "domains", description: "domains and their classes" },
      { name: "cluster", description: "hosts, devices, counts and failed jobs (cluster-admin)" },
      { name: "rpc", description: "every tracker command, with the arguments and replies it has over NATS" },
      { name: "service", description: "health and this documentation (open)" },
    ],
    paths,
    components: {
      schemas,
      responses,
      securitySchemes: { gatewayKey: { type: "http", scheme: "bearer", bearerFormat: "<access key id>:<secret>", description: SECURITY_DESCRIPTION } },
    },
  };
  pruneSchemas(document);
  return document;
}

/** POST /v1/rpc/{command}: one path per command (its own arguments and reply), and the template for any other name. */
function rpcPaths(put: (path: string, method: string, op: Json) => void, ref: (s: z.ZodType) => Json, errorRefs: (s: Iterable<number>) => Json): void {
  for (const command of Object.keys(requests) as Command[]) {
    if (REFUSED_COMMANDS.has(command)) continue;
    const n = rpcNeed(command);
    const errors = [400, 401, 404, 409, 413, 500, 503, 504];
    if (n.kind !== "key") errors.push(403);
    put(`/v1/rpc/${command}`, "POST", {
      operationId: `rpc_${command}`,
      tags: ["rpc"],
      summary: RPC_SUMMARIES[command] ?? command,
      description: `The tracker command \`${command}\`.` + (n.kind === "domain" ? ` Needs ${n.access} access to the domain in the arguments.` : ""),
      security: security(n),
      requestBody: { required: false, description: "the arguments (an empty body is `{}`)", content: { "application/json": { schema: ref(requests[command]) } } },
      responses: { 200: { description: "the reply", content: { "application/json": { schema: ref(replies[command]) } } }, ...errorRefs(errors) },
    });
  }
  put("/v1/rpc/{command}", "POST", {
    operationId: "rpc_other",
    tags: ["rpc"],
    summary: "Any other command name",
    description: `An unknown name is 404 \`unknown_command\`; ${[...REFUSED_COMMANDS].map((c) => `\`${c}\``).join(", ")} ${REFUSED_COMMANDS.size === 1 ? "is" : "are"} refused over HTTP (403; sealed secrets are for the S3 actor only).`,
    security: security({ kind: "cluster" }),
    parameters: [{ name: "command", in: "path", required: true, schema: { type: "string" } }],
    responses: errorRefs([401, 403, 404, 500, 501, 503, 504]),
  });
}

/** Drops the components no operation reaches (the protocol modules name more shapes than HTTP uses). */
function pruneSchemas(doc: Json): void {
  const components = doc.components as { schemas: Record<string, Json> };
  const seen = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      const m = k === "$ref" && typeof v === "string" ? /^#\/components\/schemas\/(.+)$/.exec(v) : null;
      if (m && !seen.has(m[1])) {
        seen.add(m[1]);
        visit(components.schemas[m[1]]);
      } else visit(v);
    }
  };
  visit({ ...doc, components: { ...components, schemas: {} } });
  for (const id of Object.keys(components.schemas)) if (!seen.has(id)) delete components.schemas[id];
}

/** GET /v1/openapi.json and GET /v1/docs; built on first use, once every route is registered. */
export function docsRoutes(app: Hono<GatewayEnv>): void {
  let doc: Json | null = null;
  let page: string | null = null;
  const document = () => (doc ??= openApiDocument(app.routes));
  app.get("/v1/openapi.json", need.open(), (c) => c.json(document()));
  app.get("/v1/docs", need.open(), (c) =>
    // everything is inline: no script runs and nothing is fetched
    c.html(page ??= renderReference(document()), 200, { "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'" }));
}
