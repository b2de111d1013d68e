// The classic MogileFS tracker protocol: codec unit tests, then a real cluster spoken to over raw TCP.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { decode, decodeArgs, encode, encodeArgs, parseLine, okLine, errLine, CodecError } from "../actors/legacy/codec.ts";
import { flatten } from "../actors/legacy/format.ts";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { Tracker, argstring, parseAnswer, put, get } from "./helpers/tracker.ts";

// ---------------------------------------------------------------------------------------------
// codec (no servers)

const codec = suite("legacy codec");

codec("codec - encodes the safe set as is, space as +, everything else as uppercase %XX of its UTF-8 bytes", () => {
  assert.is(encode("AZaz09_,-./\\:"), "AZaz09_,-./\\:");
  assert.is(encode("a b"), "a+b");
  assert.is(encode("a+b"), "a%2Bb");
  assert.is(encode("k=v&x"), "k%3Dv%26x");
  assert.is(encode("100%"), "100%25");
  assert.is(encode("é"), "%C3%A9");
  assert.is(encode("\0\n"), "%00%0A");
});

codec("codec - decodes + as space and %XX in either case; %2B stays a plus", () => {
  assert.is(decode("a+b"), "a b");
  assert.is(decode("a%2Bb"), "a+b");
  assert.is(decode("a%2bb"), "a+b");
  assert.is(decode("%C3%A9"), "é");
  assert.is(decode("%c3%a9"), "é");
  assert.is(decode("%2B+%20"), "+  ");
  for (const s of ["plain", "a b+c", "100% sure", "ключ/файл", "tab\there", "=&?#"]) assert.is(decode(encode(s)), s, s);
});

codec("codec - a stray % or bytes that are not UTF-8 are refused", () => {
  assert.throws(() => decode("%ZZ"), (e: unknown) => e instanceof CodecError);
  assert.throws(() => decode("abc%"), (e: unknown) => e instanceof CodecError);
  assert.throws(() => decode("%4"), (e: unknown) => e instanceof CodecError);
  assert.throws(() => decode("%FF%FE"), (e: unknown) => e instanceof CodecError);
});

codec("codec - argstrings: empty pairs and a literal 0 are dropped, bare names are empty, repeats join with NUL", () => {
  const a = decodeArgs("domain=d&&key=a+b%2Bc&0&bare&x=1&x=2&eq=a=b");
  assert.equal({ ...a }, { domain: "d", key: "a b+c", bare: "", x: "1\u00002", eq: "a" });
  assert.equal({ ...decodeArgs("") }, {});
  assert.equal({ ...decodeArgs("0") }, {});
  assert.equal({ ...decodeArgs("00=1") }, { "00": "1" });
  // a name like __proto__ is only a name
  const p = decodeArgs("__proto__=x&constructor=y");
  assert.is(p["__proto__"], "x");
  assert.is(Object.getPrototypeOf(p), null);
});

codec("codec - request lines: command lowercased, CR stripped, the space optional, ! and junk recognised", () => {
  assert.equal(parseLine("NOOP \r"), { kind: "request", command: "noop", argstring: "" });
  assert.equal(parseLine("noop"), { kind: "request", command: "noop", argstring: "" });
  assert.equal(parseLine("Get_Paths domain=d&key=k"), { kind: "request", command: "get_paths", argstring: "domain=d&key=k" });
  assert.equal(parseLine("\r"), { kind: "empty" });
  assert.equal(parseLine(""), { kind: "empty" });
  assert.equal(parseLine("!version"), { kind: "admin", text: "version" });
  assert.equal(parseLine("get-paths x"), { kind: "malformed" });
  assert.equal(parseLine(" noop"), { kind: "malformed" });
});

codec("codec - replies: OK with fields and callid, empty OK, ERR with encoded text and callid", () => {
  assert.is(okLine({}), "OK \r\n");
  assert.is(okLine({ fid: 7, path: "http://h:1/dev1/0/000/000/0000000007.fid", none: null, nothing: undefined }),
    "OK fid=7&path=http://h:1/dev1/0/000/000/0000000007.fid&none=&nothing=\r\n");
  assert.is(okLine({ a: "x y" }, "c 1"), "OK a=x+y&callid=c+1\r\n");
  assert.is(errLine("unknown_key", "unknown key a b"), "ERR unknown_key unknown+key+a+b\r\n");
  assert.is(errLine("fid_exists", ""), "ERR fid_exists fid_exists\r\n");
  assert.is(errLine("unknown_key", "x", "42"), "ERR unknown_key x 42\r\n");
  assert.is(encodeArgs({ t: true, f: false, n: 0 }), "t=1&f=0&n=0");
});

codec("format - create_open follows multi_dest; lists are numbered from 1", () => {
  const open = { fid: 9, devid: 3, path: "p3", dev_count: 2, dests: [{ devid: 3, path: "p3" }, { devid: 5, path: "p5" }] };
  assert.equal(flatten("create_open", open, decodeArgs("domain=d")), { fid: 9, devid: 3, path: "p3" });
  assert.equal(flatten("create_open", open, decodeArgs("domain=d&multi_dest=1")), { fid: 9, dev_count: 2, devid_1: 3, path_1: "p3", devid_2: 5, path_2: "p5" });
  assert.equal(flatten("create_open", open, decodeArgs("domain=d&multi_dest=0")), { fid: 9, devid: 3, path: "p3" });
  assert.equal(flatten("get_paths", { paths: ["a", "b"], fid: 1, length: 2 }, decodeArgs("")), { paths: 2, path1: "a", path2: "b" });
  assert.equal(flatten("create_close", { fid: 1, key: "k", length: 2 }, decodeArgs("")), {});
  assert.equal(flatten("list_keys", { keys: ["a", "b"], key_count: 2, next_after: "b" }, decodeArgs("")), { key_count: 2, next_after: "b", key_1: "a", key_2: "b" });
  assert.equal(flatten("server_settings", { settings: { a: "1", b: "" } }, decodeArgs("")), { key_count: 2, key_1: "a", value_1: "1", key_2: "b", value_2: "" });
  const info = flatten("file_info", { fid: 1, domain: "d", class: "c", key: "k", length: 5, devcount: 2, devids: [1, 4] }, decodeArgs(""));
  assert.equal(info, { fid: 1, domain: "d", class: "c", key: "k", length: 5, devcount: 2, devids: "1,4" });
  const doms = flatten("get_domains", { domains: [{ domain: "d", classes: [{ class: "default", mindevcount: 2, replpolicy: "MultipleHosts()", hashtype: "NONE" }] }] }, decodeArgs(""));
  assert.equal(doms, { domains: 1, domain1: "d", domain1classes: 1, domain1class1name: "default", domain1class1mindevcount: 2, domain1class1replpolicy: "MultipleHosts()", domain1class1hashtype: "NONE" });
});

codec.run();

// ---------------------------------------------------------------------------------------------
// the actor against a real cluster

const t = suite<{ tc: TestCluster; port: number }>("legacy");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("legacy");
  ctx.port = ctx.tc.cluster.legacyPort;
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

t("legacy - a file is stored, read, listed, renamed and deleted over the classic protocol", async ({ port }) => {
  const tr = await Tracker.connect(port);
  assert.equal(await tr.ok("create_domain", { domain: "legacy" }), { domain: "legacy" });
  assert.equal(await tr.ok("create_class", { domain: "legacy", class: "two", mindevcount: 2 }), { class: "two", mindevcount: "2", domain: "legacy" });
  assert.is(await tr.err("create_domain", { domain: "legacy" }), "domain_exists");

  const key = "photos/a cat+dog é.jpg";
  const body = randomBytes(100_000);
  const open = await tr.ok("create_open", { domain: "legacy", key, class: "two", multi_dest: 1, size: body.length });
  assert.ok(Number(open.fid) > 0, "fid");
  const n = Number(open.dev_count);
  assert.ok(n >= 1 && n <= 3, `dev_count ${n}`);
  for (let i = 1; i <= n; i++) {
    assert.match(open[`devid_${i}`], /^\d+$/);
    // signed: expiry, max length (the size given), the chain making the second copy, signature
    assert.match(open[`path_${i}`], new RegExp(`^http://[^/]+/dev\\d+/\\d/\\d{3}/\\d{3}/\\d{10}\\.fid\\?e=\\d+&l=${body.length}&c=[\\w%.-]+&s=[\\w-]{43}$`));
  }
  assert.ok(!("devid" in open) && !("path" in open), "multi_dest replies have no bare devid/path");
  assert.ok((await put(open.path_1, body)) < 300);
  // create_close answers an empty OK
  tr.send(`create_close ${argstring({ domain: "legacy", key, fid: open.fid, devid: open.devid_1, path: open.path_1, size: body.length })}\r\n`);
  assert.is(await tr.next(), "OK ");

  const paths = await tr.ok("get_paths", { domain: "legacy", key });
  assert.ok(Number(paths.paths) >= 1, "at least one path");
  const got = await get(paths.path1);
  assert.is(got.status, 200);
  assert.ok(got.body.equals(body), "the bytes read back are the bytes stored");

  const info = await tr.ok("file_info", { domain: "legacy", key });
  assert.equal({ ...info, devcount: "?" }, { fid: open.fid, domain: "legacy", class: "two", key, length: String(body.length), devcount: "?" });
  const withDevs = await until(async () => { const i = await tr.ok("file_info", { domain: "legacy", key, devices: 1 }); return i.devcount === "2" && i; }, 20_000, "2 copies");
  assert.is(withDevs.devids.split(",").length, 2);

  assert.equal(await tr.ok("list_keys", { domain: "legacy", prefix: "photos/" }), { key_count: "1", next_after: key, key_1: key });
  assert.is(await tr.err("list_keys", { domain: "legacy", prefix: "nothing/" }), "none_match");

  const fids = await tr.ok("list_fids", { from: 0, to: 100 });
  const row = Array.from({ length: Number(fids.fid_count) }, (_, i) => i + 1).find((i) => fids[`fid_${i}_fid`] === open.fid);
  assert.ok(row, "list_fids lists the fid");
  assert.equal(
    [fids[`fid_${row}_domain`], fids[`fid_${row}_class`], fids[`fid_${row}_key`], fids[`fid_${row}_length`]],
    ["legacy", "two", key, String(body.length)],
  );

  const debug = await tr.ok("file_debug", { domain: "legacy", key });
  assert.is(debug.fid_fid, open.fid);
  assert.is(debug.fid_dkey, key);
  for (const d of debug.devids.split(",")) assert.ok(debug[`devpath_${d}`], `devpath_${d}`);

  const renamed = "photos/renamed.jpg";
  assert.equal(await tr.ok("rename", { domain: "legacy", from_key: key, to_key: renamed }), {});
  assert.is(await tr.err("get_paths", { domain: "legacy", key }), "unknown_key");
  const again = await tr.ok("get_paths", { domain: "legacy", key: renamed });
  assert.ok((await get(again.path1)).body.equals(body), "the renamed key serves the same bytes");

  assert.equal(await tr.ok("delete", { domain: "legacy", key: renamed }), {});
  assert.is(await tr.err("get_paths", { domain: "legacy", key: renamed }), "unknown_key");
  assert.is(await tr.err("delete", { domain: "legacy", key: renamed }), "unknown_key");
  tr.close();
});

t("legacy - create_open without multi_dest answers fid, devid and path", async ({ port }) => {
  const tr = await Tracker.connect(port);
  const open = await tr.ok("create_open", { domain: "legacy", key: "single" });
  assert.equal(Object.keys(open).sort(), ["devid", "fid", "path"]);
  assert.ok(open.path.includes(`/dev${open.devid}/`), "the path is on the device");
  assert.is(await tr.err("create_open", { domain: "nope", key: "x" }), "unreg_domain");
  assert.is(await tr.err("create_open", { key: "x" }), "no_domain");
  tr.close();
});

t("legacy - get_domains, get_hosts and get_devices answer MogileFS fields", async ({ tc, port }) => {
  const tr = await Tracker.connect(port);
  const d = await tr.ok("get_domains");
  const i = Array.from({ length: Number(d.domains) }, (_, k) => k + 1).find((k) => d[`domain${k}`] === "legacy");
  assert.ok(i, "domain legacy listed");
  const classes = Array.from({ length: Number(d[`domain${i}classes`]) }, (_, j) => ({
    name: d[`domain${i}class${j + 1}name`], mindevcount: d[`domain${i}class${j + 1}mindevcount`],
    replpolicy: d[`domain${i}class${j + 1}replpolicy`], hashtype: d[`domain${i}class${j + 1}hashtype`],
  }));
  assert.ok(classes.some((c) => c.name === "default"), "the default class is listed");
  const two = classes.find((c) => c.name === "two");
  assert.is(two?.mindevcount, "2");
  assert.ok(two && "replpolicy" in two && "hashtype" in two);

  const h = await tr.ok("get_hosts");
  assert.is(Number(h.hosts), tc.cluster.storage.length);
  for (let k = 1; k <= Number(h.hosts); k++) {
    for (const f of ["hostid", "status", "hostname", "hostip", "http_port", "http_get_port", "altip", "altmask"]) assert.ok(`host${k}_${f}` in h, `host${k}_${f}`);
    const s = tc.cluster.storage.find((x) => x.host === h[`host${k}_hostname`]);
    assert.ok(s, `host ${h[`host${k}_hostname`]} is a storage host`);
    assert.is(h[`host${k}_http_port`], String(s!.port));
  }

  const dv = await tr.ok("get_devices");
  const want = tc.cluster.storage.reduce((n, s) => n + s.devids.length, 0);
  assert.is(Number(dv.devices), want);
  for (let k = 1; k <= want; k++) {
    for (const f of ["devid", "hostid", "status", "weight", "mb_total", "mb_used", "mb_free", "observed_state", "utilization"]) assert.ok(`dev${k}_${f}` in dv, `dev${k}_${f}`);
  }
  assert.ok(Array.from({ length: want }, (_, k) => dv[`dev${k + 1}_observed_state`]).every((s) => s === "writeable"), "every device writeable");
  const one = await tr.ok("get_devices", { devid: dv.dev1_devid });
  assert.is(one.devices, "1");
  tr.close();
});

t("legacy - admin commands: hosts, devices, classes and settings", async ({ port }) => {
  const tr = await Tracker.connect(port);
  const host = await tr.ok("create_host", { host: "spare", ip: "127.0.0.9", port: 7999, status: "down" });
  assert.is(host.hostname, "spare");
  assert.match(host.hostid, /^\d+$/);
  assert.is(await tr.err("create_host", { host: "spare", ip: "127.0.0.10", port: 7999 }), "host_exists");
  assert.equal(await tr.ok("update_host", { host: "spare", getport: 7998 }), { hostid: host.hostid, hostname: "spare" });
  const hosts = await tr.ok("get_hosts", { hostid: host.hostid });
  assert.is(hosts.hosts, "1");
  assert.equal([hosts.host1_hostname, hosts.host1_hostip, hosts.host1_http_port, hosts.host1_http_get_port, hosts.host1_status], ["spare", "127.0.0.9", "7999", "7998", "down"]);

  await tr.ok("create_device", { devid: 900, hostid: host.hostid, state: "down" });
  assert.is(await tr.err("create_device", { devid: 900, hostid: host.hostid }), "existing_devid");
  const dev = await tr.ok("get_devices", { devid: 900 });
  assert.equal([dev.devices, dev.dev1_devid, dev.dev1_hostid, dev.dev1_status], ["1", "900", host.hostid, "down"]);
  assert.equal(await tr.ok("set_weight", { host: "spare", device: 900, weight: 50 }), {});
  assert.equal(await tr.ok("set_state", { host: "spare", device: 900, state: "dead" }), {});
  assert.is(await tr.err("set_state", { host: "spare", device: 900, state: "alive" }), "state_too_high");
  assert.is(await tr.err("delete_host", { host: "spare" }), "host_not_empty");

  assert.equal(await tr.ok("update_class", { domain: "legacy", class: "two", mindevcount: 3 }), { class: "two", mindevcount: "3", domain: "legacy" });
  await tr.ok("create_class", { domain: "legacy", class: "temp", mindevcount: 1 });
  assert.equal(await tr.ok("delete_class", { domain: "legacy", class: "temp" }), { domain: "legacy", class: "temp" });
  assert.is(await tr.err("delete_class", { domain: "legacy", class: "temp" }), "class_not_found");
  await tr.ok("create_domain", { domain: "doomed" });
  assert.equal(await tr.ok("delete_domain", { domain: "doomed" }), { domain: "doomed" });

  assert.equal(await tr.ok("set_server_setting", { key: "skip_mkcol", value: "1" }), {});
  assert.equal(await tr.ok("server_setting", { key: "skip_mkcol" }), { key: "skip_mkcol", value: "1" });
  const all = await tr.ok("server_settings");
  const keys = Array.from({ length: Number(all.key_count) }, (_, k) => all[`key_${k + 1}`]);
  assert.ok(keys.includes("skip_mkcol"), "server_settings lists skip_mkcol");
  assert.is(await tr.err("set_server_setting", { key: "schema_version", value: "1" }), "not_writable");
  assert.match((await tr.ok("replicate_now")).count, /^\d+$/);
  const stats = await tr.ok("stats");
  assert.ok(Object.keys(stats).length > 0, "stats has counters");
  tr.close();
});

t("legacy - callid is echoed in OK and ERR replies", async ({ port }) => {
  const tr = await Tracker.connect(port);
  assert.equal(await tr.ok("noop", { callid: "abc 1" }), { callid: "abc 1" });
  const e = await tr.call("get_paths", { domain: "legacy", key: "missing", callid: "77" });
  assert.equal([e.ok, !e.ok && e.code, !e.ok && e.callid], [false, "unknown_key", "77"]);
  const u = await tr.call("frobnicate", { callid: "x/y" });
  assert.equal([!u.ok && u.code, !u.ok && u.callid], ["unknown_command", "x/y"]);
  tr.close();
});

t("legacy - many pipelined requests on one connection are answered in order", async ({ port }) => {
  const tr = await Tracker.connect(port);
  let batch = "";
  // more than the actor reads ahead (100), so it must stop and resume reading
  for (let i = 0; i < 250; i++) {
    batch += i % 3 === 0
      ? `get_paths ${argstring({ domain: "legacy", key: `missing-${i}`, callid: i })}\r\n`
      : i % 3 === 1 ? `noop callid=${i}\n` : `\r\nNOOP callid=${i}\r\n`;
  }
  tr.send(batch);
  for (let i = 0; i < 250; i++) {
    const a = parseAnswer((await tr.next())!);
    if (i % 3 === 0) assert.equal([a.ok, !a.ok && a.code, !a.ok && a.callid], [false, "unknown_key", String(i)]);
    else assert.equal(a.ok && a.args, { callid: String(i) });
  }
  tr.close();
});

t("legacy - two connections are served at once", async ({ port }) => {
  const [a, b] = await Promise.all([Tracker.connect(port), Tracker.connect(port)]);
  const results = await Promise.all([
    ...Array.from({ length: 10 }, (_, i) => a.ok("noop", { callid: `a${i}` })),
    ...Array.from({ length: 10 }, (_, i) => b.ok("noop", { callid: `b${i}` })),
  ]);
  assert.equal(results.map((r) => r.callid), [...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)]);
  a.close();
  b.close();
});

t("legacy - malformed lines get a clear ERR and the connection stays usable", async ({ port }) => {
  const tr = await Tracker.connect(port);
  const send = async (line: string) => { tr.send(line + "\r\n"); return parseAnswer((await tr.next())!); };
  const bad = await send("create_domain %ZZ");
  assert.equal([bad.ok, !bad.ok && bad.code], [false, "bad_params"]);
  assert.match((bad as { text: string }).text, /percent/);
  const bang = await send("!!!");
  assert.equal([bang.ok, !bang.ok && bang.code], [false, "unknown_command"]);
  const word = await send("hello");
  assert.equal(word.raw, "ERR unknown_command Unknown+server+command");
  const junk = await send("get-paths domain=x");
  assert.equal([junk.ok, !junk.ok && junk.code], [false, "unknown_command"]);
  const notUtf8 = await send("create_domain domain=%FF");
  assert.equal([notUtf8.ok, !notUtf8.ok && notUtf8.code], [false, "bad_params"]);
  const fsck = await send("fsck_status ");
  assert.match(fsck.raw, /^OK .*running=0/);
  const internal = await send("register_storage host=x&ip=1.2.3.4&port=1&devids=1");
  assert.equal([internal.ok, !internal.ok && internal.code], [false, "unknown_command"]);
  assert.equal((await send("noop ")).raw, "OK ");
  tr.close();
});

t("legacy - an over-long line is answered with ERR and the connection closed", async ({ port }) => {
  const tr = await Tracker.connect(port);
  tr.send("noop callid=before\r\n");
  tr.send("create_domain domain=" + "x".repeat(70 * 1024));
  assert.equal(parseAnswer((await tr.next())!).ok, true);
  assert.is(await tr.next(), "ERR bad_params line+too+long");
  tr.send("noop \r\n"); // ignored: the server is closing
  assert.is(await tr.next(), null);
  await until(() => tr.closed, 5_000, "connection closed");
});

t("legacy - a client that sends its requests and shuts down its side still gets every reply", async ({ port }) => {
  const tr = await Tracker.connect(port);
  tr.send("noop callid=1\r\nnoop callid=2\r\n");
  tr.socket.end();
  assert.is(await tr.next(), "OK callid=1");
  assert.is(await tr.next(), "OK callid=2");
  assert.is(await tr.next(), null);
});

t("legacy - abrupt disconnects mid-request do not hurt the actor", async ({ port }) => {
  for (let i = 0; i < 5; i++) {
    const tr = await Tracker.connect(port);
    tr.send(`get_paths ${argstring({ domain: "legacy", key: "missing" })}\r\nlist_keys domain=legacy\r\ncreate_domain domain=half`);
    await new Promise((r) => setTimeout(r, i * 5));
    tr.socket.resetAndDestroy();
  }
  const tr = await Tracker.connect(port);
  assert.equal(await tr.ok("noop"), {});
  assert.is(await tr.err("get_paths", { domain: "legacy", key: "missing" }), "unknown_key");
  tr.close();
});

t("legacy - SIGTERM answers the requests already received, closes the connections and exits cleanly", async ({ tc, port }) => {
  const idle = await Tracker.connect(port);
  const busy = await Tracker.connect(port);
  assert.equal(await idle.ok("noop"), {});
  const actor = tc.cluster.actors.find((a) => a.role === "legacy")!;
  const exited = new Promise<number | null>((resolve) => actor.proc.once("exit", (code) => resolve(code)));
  let batch = "";
  for (let i = 0; i < 50; i++) batch += `get_paths ${argstring({ domain: "legacy", key: "missing", callid: i })}\r\n`;
  busy.send(batch);
  assert.match((await busy.next())!, / 0$/); // the batch has arrived: everything in it is now in flight
  actor.proc.kill("SIGTERM");
  // MogileFS has no text for unknown_key: the code is its own text
  for (let i = 1; i < 50; i++) assert.is(await busy.next(), `ERR unknown_key unknown_key ${i}`);
  assert.is(await busy.next(), null);
  assert.is(await idle.next(), null);
  assert.is(await exited, 0);
});

t.run();
