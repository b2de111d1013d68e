// S3 XML: the response builder escapes text exactly once, and the request parser reads what the AWS
// SDKs send while refusing DTDs, malformed documents and oversized or overly deep input.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  esc, el, elAttrs, doc, errorXml, isoDate, httpDate, Xml, S3_NS,
  parseXml, child, children, childText, XmlError,
  readDeleteObjects, readCompleteMultipart, readCreateBucket,
} from "../actors/s3/xml.ts";

const DECL = '<?xml version="1.0" encoding="UTF-8"?>';

/** asserts fn throws an XmlError whose message matches re */
function rejects(fn: () => unknown, re: RegExp, what: string) {
  try { fn(); } catch (e) {
    assert.instance(e, XmlError, `${what}: an XmlError`);
    assert.match((e as Error).message, re, `${what}: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${what}: accepted`);
}

// ---- builder ----

const b = suite("s3-xml builder");

b("esc - the five special characters, nothing else", () => {
  assert.is(esc(`a&b<c>d"e'f`), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  assert.is(esc("plain ü ☃ \t"), "plain ü ☃ \t");
  assert.is(esc("&amp;"), "&amp;amp;", "text that looks escaped is still text");
});

b("el - text children are escaped, nested elements are not escaped again", () => {
  assert.is(el("Key", "a&b").s, "<Key>a&amp;b</Key>");
  const x = el("Contents", el("Key", "<x>&"), el("Size", 42), el("IsLatest", false));
  assert.instance(x, Xml);
  assert.is(x.s, "<Contents><Key>&lt;x&gt;&amp;</Key><Size>42</Size><IsLatest>false</IsLatest></Contents>");
  assert.is(String(el("A", el("B", el("C", "&")))), "<A><B><C>&amp;</C></B></A>");
  // a string that happens to be markup is text
  assert.is(el("A", "<B/>").s, "<A>&lt;B/&gt;</A>");
});

b("el - null/undefined skipped, arrays flattened, empty elements open and close", () => {
  assert.is(el("R", null, undefined, ["a", [el("K", "1"), null], 0], true).s, "<R>a<K>1</K>0true</R>");
  assert.is(el("Prefix").s, "<Prefix></Prefix>");
  assert.is(el("L", ["x", "y"].map((k) => el("Key", k))).s, "<L><Key>x</Key><Key>y</Key></L>");
});

b("el/elAttrs - names are checked, attribute values escaped", () => {
  assert.throws(() => el("a b"), /invalid XML name/);
  assert.throws(() => el("<x>"), /invalid XML name/);
  assert.throws(() => elAttrs("G", { 'x"y': "1" }), /invalid XML name/);
  assert.is(elAttrs("Grantee", { "xsi:type": `a"<&` }, "z").s, '<Grantee xsi:type="a&quot;&lt;&amp;">z</Grantee>');
});

b("doc - declaration and the S3 namespace on the root", () => {
  const d = doc("ListBucketResult", el("Name", "b&c"), el("KeyCount", 0));
  assert.is(d, `${DECL}\n<ListBucketResult xmlns="${S3_NS}"><Name>b&amp;c</Name><KeyCount>0</KeyCount></ListBucketResult>`);
  assert.is(S3_NS, "http://s3.amazonaws.com/doc/2006-03-01/");
  // what we write, we read back
  const n = parseXml(d);
  assert.is(n.name, "ListBucketResult");
  assert.equal(n.attrs, {});
  assert.is(childText(n, "Name"), "b&c");
});

b("errorXml - code, message, extras, resource, request id; no namespace", () => {
  const x = errorXml("NoSuchKey", "The specified key does not exist.", "/b/a&b", "REQ1", { Key: "a<b" });
  assert.is(x, `${DECL}\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>` +
    "<Key>a&lt;b</Key><Resource>/b/a&amp;b</Resource><RequestId>REQ1</RequestId></Error>");
  assert.not.match(x, /xmlns/);
  const n = parseXml(x);
  assert.equal(n.children.map((c) => c.name), ["Code", "Message", "Key", "Resource", "RequestId"]);
  assert.is(errorXml("A", "m", "r", "i"), `${DECL}\n<Error><Code>A</Code><Message>m</Message><Resource>r</Resource><RequestId>i</RequestId></Error>`);
});

b("dates - ISO with milliseconds for listings, IMF-fixdate for headers", () => {
  const d = new Date(Date.UTC(2009, 9, 12, 17, 50, 30, 7));
  assert.is(isoDate(d), "2009-10-12T17:50:30.007Z");
  assert.is(isoDate(new Date(Date.UTC(2009, 9, 12, 17, 50, 30))), "2009-10-12T17:50:30.000Z");
  assert.is(httpDate(d), "Mon, 12 Oct 2009 17:50:30 GMT");
  assert.is(httpDate(new Date(Date.UTC(2024, 0, 5, 3, 4, 5))), "Fri, 05 Jan 2024 03:04:05 GMT");
});

b.run();

// ---- parser ----

const p = suite("s3-xml parser");

p("the DeleteObjects body the AWS SDK v3 sends", () => {
  const body = `${DECL}<Delete xmlns="${S3_NS}"><Object><Key>a</Key></Object><Object><Key>dir/b c</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>`;
  const n = parseXml(body);
  assert.is(n.name, "Delete");
  assert.equal(n.attrs, {}, "xmlns is not an attribute");
  assert.is(children(n, "Object").length, 2);
  assert.is(childText(child(n, "Object")!, "Key"), "a");
  assert.equal(readDeleteObjects(body), { quiet: true, keys: ["a", "dir/b c"] });
  assert.equal(readDeleteObjects(`<Delete><Object><Key>x</Key></Object></Delete>`), { quiet: false, keys: ["x"] });
  assert.equal(readDeleteObjects(`<Delete><Quiet>False</Quiet><Object><Key>x</Key></Object></Delete>`).quiet, false);
});

p("the CompleteMultipartUpload body", () => {
  const body = `${DECL}<CompleteMultipartUpload xmlns="${S3_NS}">` +
    `<Part><ETag>"0123456789abcdef0123456789abcdef"</ETag><PartNumber>2</PartNumber></Part>` +
    `<Part><PartNumber>1</PartNumber><ETag>&quot;fedcba&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>` +
    `<Part><PartNumber> 10000 </PartNumber><ETag>noquotes</ETag></Part></CompleteMultipartUpload>`;
  assert.equal(readCompleteMultipart(body), [
    { partNumber: 2, etag: "0123456789abcdef0123456789abcdef" },
    { partNumber: 1, etag: "fedcba" },
    { partNumber: 10000, etag: "noquotes" },
  ]);
});

p("the CreateBucketConfiguration body, or none", () => {
  assert.is(readCreateBucket(`${DECL}<CreateBucketConfiguration xmlns="${S3_NS}"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`), "eu-west-1");
  assert.is(readCreateBucket(""), undefined);
  assert.is(readCreateBucket("  \n"), undefined);
  assert.is(readCreateBucket("<CreateBucketConfiguration/>"), undefined);
  assert.is(readCreateBucket("<CreateBucketConfiguration><LocationConstraint></LocationConstraint></CreateBucketConfiguration>"), undefined);
  rejects(() => readCreateBucket("<Bucket/>"), /^MalformedXML: root element is <Bucket>/, "wrong root");
});

p("entities, character references and CDATA in keys", () => {
  const body = `<Delete><Object><Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key></Object>` +
    `<Object><Key>&#65;&#x42;&#x1F600;&#13;&#x0A;</Key></Object>` +
    `<Object><Key><![CDATA[<raw & "x">]]></Key></Object>` +
    `<Object><Key>pre<![CDATA[&amp;]]>post</Key></Object></Delete>`;
  assert.equal(readDeleteObjects(body).keys, [`a&b<c>d"e'f`, "AB\u{1F600}\r\n", `<raw & "x">`, "pre&amp;post"]);
});

p("keys with spaces, unicode and significant whitespace are kept exactly", () => {
  const keys = [" lead", "trail ", "  ", "photos/été 2024/☃.jpg", "日本語/キー", "tab\there", "nl\nhere"];
  const body = `<Delete>${keys.map((k) => el("Object", el("Key", k)).s).join("")}</Delete>`;
  assert.equal(readDeleteObjects(body).keys, keys);
  // literal CRLF is a line end (XML end-of-line handling); &#13; is how a CR is sent
  assert.equal(readDeleteObjects("<Delete><Object><Key>a\r\nb</Key></Object></Delete>").keys, ["a\nb"]);
});

p("comments, prefixes, attributes, whitespace, self-closing tags", () => {
  const n = parseXml(`\uFEFF<?xml version="1.0"?>\n<!-- c --><s3:Delete xmlns:s3="${S3_NS}" a='1' b = "x&amp;y">\n  <!-- inner -->\n  <s3:Object><s3:Key>k</s3:Key></s3:Object>\n  <Empty/>\n</s3:Delete>\n<!-- after -->\n`);
  assert.is(n.name, "Delete");
  assert.equal(n.attrs, { a: "1", b: "x&y" });
  assert.is(n.text, "", "whitespace between elements is dropped");
  assert.equal(n.children.map((c) => c.name), ["Object", "Empty"]);
  assert.is(child(n, "Object")!.children[0]!.text, "k");
  assert.equal(child(n, "Empty"), { name: "Empty", attrs: {}, children: [], text: "" });
  assert.is(child(n, "Nope"), undefined);
  assert.is(childText(n, "Nope"), undefined);
  assert.is(childText(parseXml("<a><b>  x  </b></a>"), "b"), "x");
});

p("rejections - DTDs and entities", () => {
  rejects(() => parseXml(`<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>`), /DOCTYPE/, "DOCTYPE");
  rejects(() => parseXml(`<!DOCTYPE d><d/>`), /DOCTYPE/, "bare DOCTYPE");
  rejects(() => parseXml(`<d><!ENTITY x "y"></d>`), /not allowed/, "ENTITY inside");
  rejects(() => parseXml(`<d>&x;</d>`), /entity/, "unknown entity");
  rejects(() => parseXml(`<d>&nbsp;</d>`), /entity/, "HTML entity");
  rejects(() => parseXml(`<d>a & b</d>`), /entity/, "bare ampersand");
  rejects(() => parseXml(`<d>&amp</d>`), /entity/, "unterminated reference");
  rejects(() => parseXml(`<d a="&x;"/>`), /entity/, "unknown entity in an attribute");
  rejects(() => parseXml(`<d>&#0;</d>`), /not an XML 1.0 character/, "NUL reference");
  rejects(() => parseXml(`<d>&#x110000;</d>`), /not an XML 1.0 character/, "beyond Unicode");
  rejects(() => parseXml(`<d>\u0001</d>`), /invalid XML character U\+0001/, "literal control character");
  rejects(() => readDeleteObjects(`<!DOCTYPE Delete><Delete><Object><Key>a</Key></Object></Delete>`), /^MalformedXML: DOCTYPE/, "readers report MalformedXML");
});

p("rejections - malformed structure", () => {
  rejects(() => parseXml(`<a><b></a></b>`), /mismatched tags: <b> closed by <\/a>/, "mismatched");
  rejects(() => parseXml(`<s3:a></a>`), /mismatched/, "prefix differs");
  rejects(() => parseXml(`<a><b></b>`), /unclosed element <a>/, "unclosed");
  rejects(() => parseXml(`<a>text`), /unclosed/, "unclosed with text");
  rejects(() => parseXml(`<a/><b/>`), /second root/, "two roots");
  rejects(() => parseXml(`<a></a><a></a>`), /second root/, "two roots, same name");
  rejects(() => parseXml(`x<a/>`), /text outside the root/, "text before");
  rejects(() => parseXml(`<a/>x`), /text outside the root/, "text after");
  rejects(() => parseXml(`</a>`), /unexpected end tag/, "lone end tag");
  rejects(() => parseXml(``), /no root element/, "empty");
  rejects(() => parseXml(`<!-- only -->`), /no root element/, "only a comment");
  rejects(() => parseXml(`<a><!-- x</a>`), /unterminated comment/, "open comment");
  rejects(() => parseXml(`<a><![CDATA[x</a>`), /unterminated CDATA/, "open CDATA");
  rejects(() => parseXml(`<a b="1" b="2"/>`), /duplicate attribute/, "duplicate attribute");
  rejects(() => parseXml(`<a b=1/>`), /malformed start tag/, "unquoted attribute");
  rejects(() => parseXml(`<a><  b/></a>`), /malformed tag/, "space after <");
  rejects(() => parseXml(`<a>1 < 2</a>`), /malformed tag/, "raw <");
  rejects(() => parseXml(`<a/><?xml version="1.0"?>`), /declaration not at the start/, "late declaration");
});

p("rejections - depth and size limits", () => {
  const nest = (d: number) => "<a>".repeat(d) + "</a>".repeat(d);
  assert.is(parseXml(nest(32)).name, "a", "32 levels are fine");
  rejects(() => parseXml(nest(33)), /nested deeper than 32/, "33 levels");
  rejects(() => parseXml(nest(100000)), /nested deeper than 32/, "very deep");
  const big = `<a>${"x".repeat(1 << 20)}</a>`;
  rejects(() => parseXml(big), /larger than 1048576 bytes/, "over 1 MiB by default");
  assert.is(parseXml(big, 2 << 20).text.length, 1 << 20, "a caller may allow more");
  rejects(() => parseXml("<a>xx</a>", 8), /larger than 8 bytes/, "caller's limit");
  // the limit counts UTF-8 bytes, not UTF-16 units
  assert.is(parseXml("<a>é</a>", 9).text, "é");
  rejects(() => parseXml("<a>éé</a>", 10), /larger than 10 bytes/, "multi-byte characters count as bytes");
});

p("rejections - DeleteObjects structure", () => {
  const objs = (n: number) => `<Delete>${"<Object><Key>k</Key></Object>".repeat(n)}</Delete>`;
  assert.is(readDeleteObjects(objs(1000)).keys.length, 1000);
  rejects(() => readDeleteObjects(objs(1001)), /^MalformedXML: 1001 Object elements, at most 1000/, "1001 objects");
  rejects(() => readDeleteObjects(objs(0)), /^MalformedXML: no Object/, "no objects");
  rejects(() => readDeleteObjects(`<Delete><Object><VersionId>v</VersionId></Object></Delete>`), /^MalformedXML: Object 1 has no Key/, "no Key");
  rejects(() => readDeleteObjects(`<Delete><Quiet>yes</Quiet><Object><Key>k</Key></Object></Delete>`), /^MalformedXML: Quiet/, "bad Quiet");
  rejects(() => readDeleteObjects(`<Remove><Object><Key>k</Key></Object></Remove>`), /^MalformedXML: root element is <Remove>/, "wrong root");
  rejects(() => readDeleteObjects(`<Delete><Object><Key>k</Key></Object>`), /^MalformedXML: unclosed/, "unclosed");
});

p("rejections - CompleteMultipartUpload structure", () => {
  const one = (num: string, etag = '"e"') => `<CompleteMultipartUpload><Part><PartNumber>${num}</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
  assert.equal(readCompleteMultipart(one("1")), [{ partNumber: 1, etag: "e" }]);
  for (const bad of ["0", "10001", "x", "", "-1", "1.5", "1e3", "99999999999999999999"]) {
    rejects(() => readCompleteMultipart(one(bad)), /^MalformedXML: PartNumber/, `PartNumber ${JSON.stringify(bad)}`);
  }
  rejects(() => readCompleteMultipart(one("1", '""')), /^MalformedXML: Part 1 has an empty ETag/, "empty ETag");
  rejects(() => readCompleteMultipart(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`), /^MalformedXML: Part 1 has no ETag/, "no ETag");
  rejects(() => readCompleteMultipart(`<CompleteMultipartUpload><Part><ETag>"e"</ETag></Part></CompleteMultipartUpload>`), /^MalformedXML: Part 1 has no PartNumber/, "no PartNumber");
  rejects(() => readCompleteMultipart(`<CompleteMultipartUpload></CompleteMultipartUpload>`), /^MalformedXML: no Part/, "no parts");
  rejects(() => readCompleteMultipart(`<Complete><Part/></Complete>`), /^MalformedXML: root element/, "wrong root");
});

p.run();
