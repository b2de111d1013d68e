// XML for the S3 API: a small builder for response bodies and a small, strict parser for the few
// request bodies S3 clients send (DeleteObjects, CompleteMultipartUpload, CreateBucketConfiguration).
//
// Builder design: el() returns an `Xml` value (already-serialized markup); a plain string child is
// always text and is escaped. So nesting never double-escapes, and text can never inject markup.
//
// The parser is non-validating and refuses DTDs outright (no DOCTYPE, no ENTITY: no XXE or entity
// expansion bombs), caps size and depth, and knows only the five predefined entities and numeric
// character references.

export const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";
export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

// ---- builder ----

/** Escape text for XML content and attribute values: the five special characters only. Characters
 * XML 1.0 cannot carry at all (C0 controls other than \t \n \r) are left as they are: no escaping
 * makes them valid, so listings of such keys must use encoding-type=url. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}
const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Serialized markup, as returned by el(): inserted verbatim where a plain string would be escaped. */
export class Xml {
  constructor(readonly s: string) {}
  toString(): string { return this.s; }
}

/** An element's content: Xml is markup, strings/numbers/booleans are text, null/undefined are
 * skipped, arrays are flattened (so `items.map(...)` can be passed directly). */
export type Child = Xml | string | number | boolean | null | undefined | Child[];

const NAME_RE = /^[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?$/;

function render(c: Child): string {
  if (c === null || c === undefined) return "";
  if (c instanceof Xml) return c.s;
  if (Array.isArray(c)) return c.map(render).join("");
  return esc(String(c));
}

/** `<name attr="v"...>children</name>`; names are checked since they are never escaped. */
export function elAttrs(name: string, attrs: Record<string, string>, ...children: Child[]): Xml {
  if (!NAME_RE.test(name)) throw new Error(`invalid XML name: ${JSON.stringify(name)}`);
  let open = name;
  for (const [k, v] of Object.entries(attrs)) {
    if (!NAME_RE.test(k)) throw new Error(`invalid XML name: ${JSON.stringify(k)}`);
    open += ` ${k}="${esc(v)}"`;
  }
  // S3 writes empty elements as <X></X>, never <X/>; some clients' parsers care.
  return new Xml(`<${open}>${children.map(render).join("")}</${name}>`);
}

/** el("Key", "a&b").s === "<Key>a&amp;b</Key>" */
export function el(name: string, ...children: Child[]): Xml {
  return elAttrs(name, {}, ...children);
}

/** A whole S3 response document: declaration + root element in the S3 namespace. */
export function doc(root: string, ...children: Child[]): string {
  return XML_DECL + elAttrs(root, { xmlns: S3_NS }, ...children).s;
}

/** An S3 error body. S3 puts no xmlns on <Error>. `extra` fields (e.g. Key, BucketName) go after
 * Message, as S3 places them. */
export function errorXml(code: string, message: string, resource: string, requestId: string, extra?: Record<string, string>): string {
  const more = Object.entries(extra ?? {}).map(([k, v]) => el(k, v));
  return XML_DECL + el("Error", el("Code", code), el("Message", message), more, el("Resource", resource), el("RequestId", requestId)).s;
}

/** 2009-10-12T17:50:30.000Z, as S3 lists LastModified */
export function isoDate(d: Date): string {
  return d.toISOString();
}

/** RFC 7231 IMF-fixdate (Mon, 12 Oct 2009 17:50:30 GMT), for Last-Modified headers */
export function httpDate(d: Date): string {
  return d.toUTCString();
}

// ---- parser ----

export interface XmlNode {
  /** local name: any namespace prefix is stripped */
  name: string;
  /** attributes as written, minus xmlns declarations */
  attrs: Record<string, string>;
  children: XmlNode[];
  /** the element's own text (entities decoded, CDATA included), untrimmed; whitespace-only text of
   * an element that has child elements is dropped */
  text: string;
}

export class XmlError extends Error {
  override name = "XmlError";
}

export const MAX_XML_BYTES = 1 << 20;
export const MAX_XML_DEPTH = 32;

function fail(msg: string): never { throw new XmlError(msg); }

// Sticky: matched at a given offset.
const TAG_NAME = /[A-Za-z_:\u00C0-\uFFFF][\w.\-:\u00B7\u00C0-\uFFFF]*/y;
const ATTR = /\s+([A-Za-z_:\u00C0-\uFFFF][\w.\-:\u00B7\u00C0-\uFFFF]*)\s*=\s*(?:"([^<"]*)"|'([^<']*)')/y;
const TAG_END = /\s*(\/?)>/y;
const CLOSE_END = /\s*>/y;
// Anything other than the five or a numeric reference leaves the group unmatched: refused.
const REF = /&(?:(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);)?/g;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function decode(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(REF, (_m, ref: string | undefined, at: number) => {
    if (ref === undefined) fail(`unknown or malformed entity reference near ${JSON.stringify(raw.slice(at, at + 12))}`);
    if (ref[0] !== "#") return NAMED[ref]!;
    const cp = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (!isXmlChar(cp)) fail(`character reference &${ref}; is not an XML 1.0 character`);
    return String.fromCodePoint(cp);
  });
}

function match(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

const localName = (q: string): string =>
  q.slice(q.lastIndexOf(":") + 1) || fail(`bad element name ${JSON.stringify(q)}`);

/** Parse one XML document into its root element. Throws XmlError on anything malformed or refused. */
export function parseXml(input: string, maxBytes: number = MAX_XML_BYTES): XmlNode {
  // length is a lower bound of the UTF-8 size: huge inputs are refused without a scan
  if (input.length > maxBytes || Buffer.byteLength(input, "utf8") > maxBytes) fail(`document is larger than ${maxBytes} bytes`);
  // XML end-of-line handling: literal CR/CRLF become LF (a &#13; reference survives)
  const s = input.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const bad = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/.exec(s);
  if (bad) fail(`invalid XML character U+${bad[0].charCodeAt(0).toString(16).padStart(4, "0")} at offset ${bad.index}`);

  const stack: XmlNode[] = [];
  const qnames: string[] = [];
  let root: XmlNode | undefined;
  let i = 0;
  const close = (n: XmlNode) => { if (n.children.length && !n.text.trim()) n.text = ""; };

  while (i < s.length) {
    const lt = s.indexOf("<", i);
    const end = lt < 0 ? s.length : lt;
    if (end > i) {
      const raw = s.slice(i, end);
      const top = stack[stack.length - 1];
      if (top) top.text += decode(raw);
      else if (raw.trim()) fail("text outside the root element");
    }
    if (lt < 0) break;
    i = lt;

    if (s.startsWith("<!--", i)) {
      const e = s.indexOf("-->", i + 4);
      if (e < 0) fail("unterminated comment");
      i = e + 3;
    } else if (s.startsWith("<![CDATA[", i)) {
      const top = stack[stack.length - 1] ?? fail("CDATA outside the root element");
      const e = s.indexOf("]]>", i + 9);
      if (e < 0) fail("unterminated CDATA section");
      top.text += s.slice(i + 9, e);
      i = e + 3;
    } else if (s.startsWith("<!", i)) {
      fail("DOCTYPE and other markup declarations are not allowed");
    } else if (s.startsWith("<?", i)) {
      // the declaration belongs in the prolog; other processing instructions are skipped
      if (/^<\?xml[\s?]/i.test(s.slice(i, i + 6)) && s.slice(0, i).trim()) fail("XML declaration not at the start of the document");
      const e = s.indexOf("?>", i + 2);
      if (e < 0) fail("unterminated processing instruction");
      i = e + 2;
    } else if (s.startsWith("</", i)) {
      const m = match(TAG_NAME, s, i + 2) ?? fail(`malformed end tag at offset ${i}`);
      const e = match(CLOSE_END, s, i + 2 + m[0].length) ?? fail(`malformed end tag </${m[0]}`);
      const open = qnames.pop();
      if (open === undefined) fail(`unexpected end tag </${m[0]}>`);
      if (open !== m[0]) fail(`mismatched tags: <${open}> closed by </${m[0]}>`);
      close(stack.pop()!);
      i = e.index + e[0].length;
    } else {
      const m = match(TAG_NAME, s, i + 1) ?? fail(`malformed tag at offset ${i}`);
      if (root && !stack.length) fail(`a second root element <${m[0]}>`);
      if (stack.length >= MAX_XML_DEPTH) fail(`elements nested deeper than ${MAX_XML_DEPTH}`);
      const node: XmlNode = { name: localName(m[0]), attrs: {}, children: [], text: "" };
      const seen = new Set<string>();
      let j = i + 1 + m[0].length;
      for (let a; (a = match(ATTR, s, j)); j = a.index + a[0].length) {
        const k = a[1]!;
        if (seen.has(k)) fail(`duplicate attribute ${k} on <${m[0]}>`);
        seen.add(k);
        if (k !== "xmlns" && !k.startsWith("xmlns:")) node.attrs[k] = decode(a[2] ?? a[3] ?? "");
      }
      const e = match(TAG_END, s, j) ?? fail(`malformed start tag <${m[0]}`);
      (stack[stack.length - 1]?.children ?? []).push(node);
      root ??= node;
      if (!e[1]) { stack.push(node); qnames.push(m[0]); } else close(node);
      i = e.index + e[0].length;
    }
  }
  if (qnames.length) fail(`unclosed element <${qnames[qnames.length - 1]}>`);
  return root ?? fail("no root element");
}

export function child(n: XmlNode, name: string): XmlNode | undefined {
  return n.children.find((c) => c.name === name);
}

export function children(n: XmlNode, name: string): XmlNode[] {
  return n.children.filter((c) => c.name === name);
}

/** trimmed text of the first child `name`; use child(n, name)?.text where whitespace matters (keys) */
export function childText(n: XmlNode, name: string): string | undefined {
  return child(n, name)?.text.trim();
}

// ---- typed readers for S3 request bodies; every failure is XmlError("MalformedXML: ...") ----

/** 1000 keys of up to 1024 bytes, entity-escaped, exceed 1 MiB; still bounded */
export const MAX_DELETE_BODY_BYTES = 4 << 20;
/** 10000 parts, each possibly with checksum elements, exceed 1 MiB */
export const MAX_COMPLETE_BODY_BYTES = 4 << 20;

function malformed(msg: string): never { throw new XmlError(`MalformedXML: ${msg}`); }

function parseRoot(body: string, root: string, maxBytes: number): XmlNode {
  let n: XmlNode;
  try { n = parseXml(body, maxBytes); } catch (e) { if (e instanceof XmlError) malformed(e.message); throw e; }
  if (n.name !== root) malformed(`root element is <${n.name}>, expected <${root}>`);
  return n;
}

/** DeleteObjects: Key text is kept exactly (untrimmed); VersionId and unknown elements are ignored. */
export function readDeleteObjects(body: string): { quiet: boolean; keys: string[] } {
  const n = parseRoot(body, "Delete", MAX_DELETE_BODY_BYTES);
  const q = childText(n, "Quiet")?.toLowerCase();
  if (q !== undefined && q !== "true" && q !== "false") malformed(`Quiet must be true or false, not ${JSON.stringify(q)}`);
  const objects = children(n, "Object");
  if (!objects.length) malformed("no Object elements");
  if (objects.length > 1000) malformed(`${objects.length} Object elements, at most 1000 are allowed`);
  const keys = objects.map((o, k) => (child(o, "Key") ?? malformed(`Object ${k + 1} has no Key`)).text);
  return { quiet: q === "true", keys };
}

/** CompleteMultipartUpload: parts in document order; order and duplicates are the caller's to judge. */
export function readCompleteMultipart(body: string): { partNumber: number; etag: string }[] {
  const n = parseRoot(body, "CompleteMultipartUpload", MAX_COMPLETE_BODY_BYTES);
  const parts = children(n, "Part");
  if (!parts.length) malformed("no Part elements");
  return parts.map((p, k) => {
    const num = childText(p, "PartNumber") ?? malformed(`Part ${k + 1} has no PartNumber`);
    const partNumber = /^\d{1,5}$/.test(num) ? Number(num) : 0;
    if (partNumber < 1 || partNumber > 10000) malformed(`PartNumber ${JSON.stringify(num)} is not an integer from 1 to 10000`);
    const tag = childText(p, "ETag") ?? malformed(`Part ${k + 1} has no ETag`);
    const etag = tag.length >= 2 && tag.startsWith('"') && tag.endsWith('"') ? tag.slice(1, -1) : tag;
    if (!etag) malformed(`Part ${k + 1} has an empty ETag`);
    return { partNumber, etag };
  });
}

/** CreateBucket's optional body: the LocationConstraint, or undefined when the body or it is absent/empty. */
export function readCreateBucket(body: string): string | undefined {
  if (!body.trim()) return undefined;
  const n = parseRoot(body, "CreateBucketConfiguration", MAX_XML_BYTES);
  return childText(n, "LocationConstraint") || undefined;
}
