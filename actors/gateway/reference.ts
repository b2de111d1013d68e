// The API reference page (GET /v1/docs): the OpenAPI document rendered here as one self-contained
// HTML page: no script, no stylesheet or font fetched, so it works offline and under a strict CSP.
import type { Json } from "./openapi.ts";

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** inline `code` in descriptions, the only markdown they use */
const text = (s: unknown) => esc(s ?? "").replace(/`([^`]+)`/g, "<code>$1</code>");
const METHODS = ["get", "head", "put", "post", "patch", "delete"];
const anchor = (method: string, path: string) => `op-${method}-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
const refName = (ref: string) => ref.replace(/^#\/components\/[a-z]+\//, "");

/** A schema in a word or two: links for named schemas, unions, arrays, maps, enums, constraints. */
function typeOf(s: Json | undefined): string {
  if (!s || Object.keys(s).length === 0) return "any";
  if (typeof s.$ref === "string") return `<a href="#schema-${esc(refName(s.$ref))}">${esc(refName(s.$ref))}</a>`;
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (alts) return alts.map(typeOf).join(" | ");
  if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  if (Array.isArray(s.enum)) return s.enum.map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(" | ");
  const types = (Array.isArray(s.type) ? s.type : [s.type ?? "any"]) as string[];
  const out = types.map((t) => {
    if (t === "array") return `array of ${typeOf(s.items as Json)}`;
    if (t === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
      return `map of ${typeOf(s.propertyNames as Json) === "any" ? "string" : typeOf(s.propertyNames as Json)} → ${typeOf(s.additionalProperties as Json)}`;
    }
    return esc(t);
  }).join(" | ");
  const limits = [
    s.minLength !== undefined && `≥ ${s.minLength} chars`, s.maxLength !== undefined && `≤ ${s.maxLength} chars`,
    s.minimum !== undefined && `≥ ${s.minimum}`, s.maximum !== undefined && s.maximum !== Number.MAX_SAFE_INTEGER && `≤ ${s.maximum}`,
    s.pattern !== undefined && `matches <code>${esc(s.pattern)}</code>`, s.default !== undefined && `default <code>${esc(JSON.stringify(s.default))}</code>`,
  ].filter(Boolean);
  return out + (limits.length ? ` <span class="lim">(${limits.join(", ")})</span>` : "");
}

/** An object schema as a table of its fields; anything else as its type. */
function schemaBlock(s: Json | undefined): string {
  if (!s) return "";
  const props = s.properties as Record<string, Json> | undefined;
  if (s.type !== "object" || !props || Object.keys(props).length === 0) {
    return `<p>${typeOf(s)}${s.description && !s.$ref ? ` — ${text(s.description)}` : ""}</p>`;
  }
  const required = new Set((s.required as string[] | undefined) ?? []);
  const rows = Object.entries(props).map(([name, p]) =>
    `<tr><td><code>${esc(name)}</code>${required.has(name) ? "" : ' <span class="opt">optional</span>'}</td><td>${typeOf(p)}</td><td>${text(p.description)}</td></tr>`);
  return `${s.description ? `<p>${text(s.description)}</p>` : ""}<table><tr><th>field</th><th>type</th><th>about</th></tr>${rows.join("")}</table>`;
}

function securityText(sec: Json[] | undefined): string {
  if (!sec || sec.length === 0) return "open: no key needed";
  return sec.map((req) => {
    const roles = Object.values(req)[0] as string[] | undefined;
    if (!roles) return "no key (a domain with anonymous_read)";
    return roles.length ? `a key with ${roles.map((r) => `<code>${esc(r)}</code>`).join(", ")}` : "any valid key";
  }).join(", or ");
}

function operation(method: string, path: string, op: Json, components: Json): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const body = op.requestBody as Json | undefined;
  const parts = [
    `<section class="op" id="${anchor(method, path)}"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>`,
    `<p><b>${text(op.summary)}</b>${op.description ? ` ${text(op.description)}` : ""}</p>`,
    `<p class="sec">Access: ${securityText(op.security as Json[] | undefined)}</p>`,
  ];
  if (params.length) {
    parts.push(`<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>about</th></tr>${params.map((p) =>
      `<tr><td><code>${esc(p.name)}</code>${p.required ? "" : ' <span class="opt">optional</span>'}</td><td>${esc(p.in)}</td><td>${typeOf(p.schema as Json)}</td><td>${text(p.description)}</td></tr>`).join("")}</table>`);
  }
  if (body) {
    for (const [media, m] of Object.entries(body.content as Record<string, Json>)) {
      parts.push(`<h4>Body <code>${esc(media)}</code>${body.required ? "" : " (optional)"}</h4>${body.description ? `<p>${text(body.description)}</p>` : ""}${schemaBlock(m.schema as Json | undefined)}`);
    }
  }
  const rows = Object.entries(op.responses as Record<string, Json>).map(([status, r]) => {
    const res = (typeof r.$ref === "string" ? (components.responses as Record<string, Json>)[refName(r.$ref)] : r) ?? {};
    const content = Object.entries((res.content as Record<string, Json> | undefined) ?? {})
      .map(([media, m]) => `<code>${esc(media)}</code>${m.schema ? ` ${typeOf(m.schema as Json)}` : ""}`).join("<br>");
    return `<tr><td>${esc(status)}</td><td>${text(res.description)}</td><td>${content}</td></tr>`;
  });
  parts.push(`<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>body</th></tr>${rows.join("")}</table></section>`);
  return parts.join("\n");
}

/** The whole page. */
export function renderReference(doc: Json): string {
  const info = doc.info as Json;
  const components = doc.components as Json;
  const paths = doc.paths as Record<string, Json>;
  const ops: { tag: string; method: string; path: string; op: Json }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) if (item[method]) ops.push({ tag: ((item[method] as Json).tags as string[])?.[0] ?? "other", method, path, op: item[method] as Json });
  }
  const tags = (doc.tags as Json[]).map((t) => t.name as string);
  const toc = tags.map((tag) => `<h3>${esc(tag)}</h3><ul>${ops.filter((o) => o.tag === tag).map((o) =>
    `<li><a href="#${anchor(o.method, o.path)}"><span class="m ${o.method}">${o.method.toUpperCase()}</span> <code>${esc(o.path)}</code></a> ${text(o.op.summary)}</li>`).join("")}</ul>`);
  const schemas = Object.entries(components.schemas as Record<string, Json>).map(([name, s]) =>
    `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${schemaBlock(s)}</section>`);
  const scheme = (components.securitySchemes as Record<string, Json>).gatewayKey;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)} — API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
code{font:13px ui-monospace,monospace;background:#f3f3f3;padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;margin:.5em 0;width:100%}td,th{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#fafafa}ul{list-style:none;padding-left:0}li{margin:.2em 0}a{color:#0550ae;text-decoration:none}
.m{display:inline-block;min-width:4.5em;font:bold 12px ui-monospace,monospace;color:#fff;border-radius:3px;text-align:center;padding:.1em 0}
.get,.head{background:#1a7f37}.put,.patch{background:#9a6700}.post{background:#0550ae}.delete{background:#cf222e}
.op{border-top:1px solid #ddd;margin-top:1.5em}.opt,.lim{color:#666;font-size:12px}.sec{color:#444}
</style></head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${text(info.description)}</p>
<p>Authentication: ${text(scheme.description)}</p>
<p>Machine-readable: <a href="openapi.json"><code>/v1/openapi.json</code></a> (OpenAPI ${esc(doc.openapi)}).</p>
<h2>Operations</h2>
${toc.join("\n")}
${ops.map((o) => operation(o.method, o.path, o.op, components)).join("\n")}
<h2>Schemas</h2>
${schemas.join("\n")}
</body></html>
`;
}
