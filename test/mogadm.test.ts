// The real MogileFS tools against mogile, unchanged: `mogadm check` (MogileFS-Utils), the monitor's
// usage poll (MogileFS-Server Worker/Monitor.pm), `sleep`, `clear_cache`, MogileFS's error texts
// and `ERR dup` for a second host on one address. mogadm itself (Perl, CPAN) cannot be installed
// here, so `mogadmCheck` below makes exactly the requests `mogadm check` makes, in its order, and
// parses the answers as it does; each step names the mogadm code it mirrors.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, mkdirSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import http from "node:http";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { tempDir } from "./helpers/until.ts";
import { Tracker, enc, put } from "./helpers/tracker.ts";
import { MountTable, initDevice } from "../actors/storage/mount.ts";
import { fileStore } from "../actors/storage/files.ts";
import { createFileServer } from "../actors/storage/server.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { openStore } from "../actors/runtime/mongo.ts";
import { MAX_SLEEP_SEC, sleepSeconds } from "../protocol/schemas.ts";
import { fidPath } from "../protocol/paths.ts";
import { MogileError } from "../protocol/errors.ts";

/** One HTTP GET (or other method) the way AnyEvent::HTTP's http_request reports it: status and body. */
function request(url: string, method = "GET"): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Perl's `split(/:\s+/, $line)`: trailing empty fields are dropped. */
function perlSplit(line: string): string[] {
  const parts = line.split(/:\s+/);
  while (parts.length && parts[parts.length - 1] === "") parts.pop();
  return parts;
}
/** Perl's `/\A\d+(\.\d+)?\Z/` */
const perlNumber = (v: string | undefined) => v !== undefined && /^\d+(\.\d+)?$/.test(v);
/** Perl truthiness of a string: defined, not "" and not "0" */
const perlTrue = (v: string | undefined) => v !== undefined && v !== "" && v !== "0";

/**
 * `mogadm --trackers=<t> check`, request for request (MogileFS-Utils `mogadm`, sub cmd_check).
 * Returns what it prints and its exit code.
 */
async function mogadmCheck(trackers: string[]): Promise<{ exit: number; out: string[]; devices: string[] }> {
  const out: string[] = [];
  type Row = Record<string, string>;
  let hosts: Record<string, Row> | null = null;
  let devices: Record<string, Record<string, Row>> | null = null;

  // step 1, "Checking trackers...": per tracker, MogileFS::Admin->get_hosts then ->get_devices on one
  // MogileFS::Backend connection; do_request sends "get_hosts \r\n" (command, space, no args). A
  // reply that is not OK makes hosts()/devices() undef: "REQUEST FAILURE"
  out.push("Checking trackers...");
  for (const t of trackers) {
    const [ip, port] = t.split(":");
    assert.is(ip, "127.0.0.1");
    const tr = await Tracker.connect(Number(port));
    try {
      const h = await tr.call("get_hosts");
      const d = await tr.call("get_devices");
      if (h.ok && d.ok) {
        // _array_to_hashref(get_hosts(), 'hostid'): rows 1..hosts of host<N>_<field>
        const lhosts: Record<string, Row> = {};
        for (let n = 1; n <= Number(h.args.hosts); n++) {
          const row = Object.fromEntries(["hostid", "status", "hostname", "hostip", "http_port", "http_get_port", "altip", "altmask"].map((f) => [f, h.args[`host${n}_${f}`]]));
          lhosts[row.hostid] = row;
        }
        // _array_to_hashref(get_devices(), ['hostid', 'devid']): rows 1..devices of dev<N>_<field>
        const ldevs: Record<string, Record<string, Row>> = {};
        for (let n = 1; n <= Number(d.args.devices); n++) {
          const row = Object.fromEntries(["devid", "hostid", "status", "observed_state", "utilization", "mb_total", "mb_used", "weight"].map((f) => [f, d.args[`dev${n}_${f}`]]));
          (ldevs[row.hostid] ??= {})[row.devid] = row;
        }
        out.push(`  ${t} ... OK`);
        hosts = lhosts;
        devices = ldevs;
      } else {
        out.push(`  ${t} ... REQUEST FAILURE (is the tracker up?)`);
      }
    } finally {
      tr.close();
    }
  }
  // fail_text('no_hosts'): exit 1
  if (!hosts || !devices) return { exit: 1, out: [...out, "Unable to retrieve host information from tracker(s)."], devices: [] };

  // step 2, "Checking hosts...": each host whose status is 'alive', in hostid order, gets
  // GET http://<hostip>:<http_port>/; a Status of 2xx or 3xx is OK and keeps its URL for step 3
  out.push("", "Checking hosts...");
  const urls: [string, string][] = [];
  for (const hostid of Object.keys(hosts).sort((a, b) => Number(a) - Number(b))) {
    const host = hosts[hostid];
    if (host.status !== "alive") {
      out.push(`skipping; status = ${host.status}`);
      continue;
    }
    const url = `http://${host.hostip}:${host.http_port}/`;
    const res = await request(url).catch(() => ({ status: 599, body: "" }));
    if (/^(2|3)\d+$/.test(String(res.status))) {
      out.push(`  [${hostid.padStart(2)}] ${host.hostname} ... OK`);
      urls.push([hostid, url]);
    } else {
      out.push(`  [${hostid.padStart(2)}] ${host.hostname} ... REQUEST FAILURE FETCHING: ${url}`);
    }
  }
  // fail_text('no_devices') unless @urls: exit 1
  if (urls.length === 0) return { exit: 1, out: [...out, "No devices found on tracker(s)."], devices: [] };

  // step 3, "Checking devices...": per host URL, each device not 'dead', in devid order:
  // GET <url>dev<devid>/usage, then `map { split(/:\s+/) } split(/\r?\n/, $body)` into a hash
  out.push("", "Checking devices...");
  const listed: string[] = [];
  const total = { total: 0, used: 0, avail: 0 };
  for (const [hostid, url] of urls) {
    const devs = devices[hostid] ?? {};
    for (const devid of Object.keys(devs).sort((a, b) => Number(a) - Number(b))) {
      const dev = devs[devid];
      if ((dev.status || "??") === "dead") continue;
      const res = await request(`${url}dev${devid}/usage`).catch(() => ({ status: 599, body: "" }));
      if (!/^(2|3)\d+$/.test(String(res.status))) { out.push(`REQUEST FAILURE FETCHING: ${url}dev${devid}/usage`); continue; }
      if (res.body.length < 1) { out.push(`USAGE FILE BROKEN OR EMPTY: ${url}dev${devid}/usage`); continue; }
      const flat = res.body.split(/\r?\n/).filter((l, i, all) => !(l === "" && i === all.length - 1)).flatMap(perlSplit);
      const data: Record<string, string | number> = {};
      for (let i = 0; i < flat.length; i += 2) data[flat[i]] = flat[i + 1];
      // time, used, total and avail must be numbers, else 0
      for (const k of ["time", "used", "total", "avail"]) if (!perlNumber(data[k] as string)) data[k] = 0;
      // available, device and disk must be there and true, else "MISSING FIELD" and no line
      const missing = ["available", "device", "disk"].filter((k) => !perlTrue(data[k] as string));
      if (missing.length) { for (const k of missing) out.push(`MISSING FIELD (${k}) FROM BODY FILE: ${url}dev${devid}/body`); continue; }
      // sizes are KiB: / 1024**2 gives GiB; the percentage divides by total (0 would die in Perl)
      const used = Number(data.used) / 1024 ** 2, size = Number(data.total) / 1024 ** 2, avail = Number(data.available) / 1024 ** 2;
      if (size === 0) return { exit: 255, out: [...out, "Illegal division by zero"], devices: listed };
      const pct = 100 - (avail / size) * 100;
      total.used += used; total.avail += avail; total.total += size;
      out.push(`  [${hostid.padStart(2)}] ${`dev${devid}`.padEnd(7)}   ${size.toFixed(3).padStart(12)} ${used.toFixed(3).padStart(10)} ${avail.toFixed(3).padStart(10)} ${pct.toFixed(2).padStart(6)}%  ${(dev.observed_state || "?").padEnd(10)}`);
      listed.push(`dev${devid}`);
    }
  }
  out.push(`             total:${total.total.toFixed(3).padStart(10)} ${total.used.toFixed(3).padStart(10)} ${total.avail.toFixed(3).padStart(10)}`);
  // ok(): exit 0
  return { exit: 0, out, devices: listed };
}

// ---- the storage node's tool paths, without a cluster ----

const u = suite("mogstored paths");

u("mogstored - GET / answers 200, /dev<N>/usage has mogstored's fields; both are read-only and file data stays signed", async () => {
  const root = tempDir("mogstored");
  mkdirSync(path.join(root, "dev1"));
  await initDevice(root, 1);
  mkdirSync(path.join(root, "dev2")); // no marker: not mounted
  const key = randomBytes(32);
  const server = createFileServer(fileStore(root, [1, 2], new MountTable(root, new Set([1, 2]), 1)), createLogger({ role: "test" }, "error"), { key });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const top = await request(`${base}/`);
    assert.is(top.status, 200);
    assert.match(top.body, /dev1 dev2/);
    assert.is((await request(`${base}/`, "HEAD")).status, 200);

    const before = Math.floor(Date.now() / 1000);
    const usage = await request(`${base}/dev1/usage`);
    assert.is(usage.status, 200);
    // mogstored's format: `key: value` lines, keys sorted, a newline after each
    const lines = usage.body.split("\n");
    assert.is(lines.pop(), "", "ends with a newline");
    assert.equal(lines.map((l) => l.split(": ")[0]), ["available", "device", "disk", "time", "total", "use", "used"]);
    const f = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]));
    for (const k of ["available", "time", "total", "used"]) assert.match(f[k], /^\d+$/, `${k} is an integer`);
    assert.is(Number(f.total), Number(f.used) + Number(f.available), "total is used + available (reserved blocks left out)");
    assert.ok(Number(f.total) > 0 && Number(f.used) > 0, "sizes of a real filesystem");
    assert.is(f.disk, path.join(root, "dev1"));
    assert.ok(f.device.length > 0 && f.device !== "unknown", `device names the filesystem's source: ${f.device}`);
    assert.match(f.use, /^\d{1,3}%$/);
    assert.ok(Number(f.time) >= before - 1 && Number(f.time) <= Math.floor(Date.now() / 1000) + 1, "time is now, in unix seconds");
    // MogileFS's monitor (Worker/Monitor.pm check_device): /^(\w+)\s*:\s*(.+)$/ per line, and it
    // needs used and total true; it stores mb_total = int(total / 1024)
    const stats: Record<string, string> = {};
    for (const l of usage.body.split(/\r?\n/)) { const m = /^(\w+)\s*:\s*(.+)$/.exec(l); if (m) stats[m[1]] = m[2]; }
    assert.ok(perlTrue(stats.used) && perlTrue(stats.total));
    assert.is(Math.floor(Number(stats.total) / 1024), Math.floor(Number(f.total) / 1024));

    // read-only, and only for devices of this node that are mounted
    assert.is((await request(`${base}/dev1/usage`, "HEAD")).status, 200);
    for (const m of ["PUT", "DELETE", "POST"]) assert.is((await request(`${base}/dev1/usage`, m)).status, 405, `${m} /dev1/usage`);
    assert.is((await request(`${base}/`, "PUT")).status, 405);
    assert.is((await request(`${base}/dev2/usage`)).status, 503, "an unmounted device has no usage");
    assert.is((await request(`${base}/dev9/usage`)).status, 404, "a device of another node");
    // nothing was written into the device directory (mogstored writes a usage file there; we compute it)
    assert.equal(readdirSync(path.join(root, "dev1")).filter((n) => n !== ".mogile-device"), []);
    // file data is as protected as before: writes and deletes still need a signed URL
    assert.is((await request(`${base}${fidPath(1, 7)}`, "PUT")).status, 403);
    assert.is((await request(`${base}${fidPath(1, 7)}`, "DELETE")).status, 403);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(root, { recursive: true, force: true });
  }
});

u("sleep - the duration defaults to 10 s as in MogileFS and is capped below MogileFS's 30 s watchdog", () => {
  assert.is(sleepSeconds(undefined), 10);
  assert.is(sleepSeconds(0), 10);
  assert.is(sleepSeconds(2), 2);
  assert.is(sleepSeconds(0.5), 0.5);
  assert.is(sleepSeconds(3600), MAX_SLEEP_SEC);
  assert.ok(MAX_SLEEP_SEC < 30);
});

u.run();

// ---- against a cluster ----

type Ctx = { tc: TestCluster; port: number };
const t = suite<Ctx>("mogadm");
t.before(async (ctx) => {
  // the actors log JSON here, so the suite also checks that format on real processes
  ctx.tc = await startTestCluster("mogadm", { env: { MOGILE_LOG_FORMAT: "json" } });
  ctx.port = ctx.tc.cluster.legacyPort;
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };

t("mogadm check - exits 0 and lists every device of every host", async ({ tc, port }) => {
  const r = await mogadmCheck([`127.0.0.1:${port}`]);
  assert.is(r.exit, 0, r.out.join("\n"));
  const want = tc.cluster.storage.flatMap((s) => s.devids).sort((a, b) => a - b).map((d) => `dev${d}`);
  assert.equal([...r.devices].sort((a, b) => Number(a.slice(3)) - Number(b.slice(3))), want, r.out.join("\n"));
  for (const s of tc.cluster.storage) assert.ok(r.out.some((l) => l.includes(`] ${s.host} ... OK`)), `host ${s.host} checked OK:\n${r.out.join("\n")}`);
  assert.not.ok(r.out.some((l) => /FAILURE|MISSING|BROKEN/.test(l)), r.out.join("\n"));
});

t("sleep - answers after its duration over the classic port and NATS, while other requests are served", async ({ tc, port }) => {
  const sleeper = await Tracker.connect(port);
  const other = await Tracker.connect(port);
  try {
    let answered = false;
    const slept = sleeper.call("sleep", { duration: 3 }).then((a) => { answered = true; return a; });
    // the other connection, and NATS callers, are served while the sleep is pending
    assert.equal(await other.ok("noop"), {});
    assert.equal(await tc.client.rpc("noop", {}), {});
    assert.match((await other.ok("get_domains")).domains, /^\d+$/);
    assert.not.ok(answered, "the sleep was still pending");
    const a = await slept;
    assert.equal([a.ok, a.raw], [true, "OK "]);
    assert.equal(await tc.client.rpc("sleep", { duration: 1 }), {});
    assert.is(await sleeper.err("sleep", { duration: -1 }), "bad_params");
    assert.is(await sleeper.err("sleep", { duration: "soon" }), "bad_params");
    assert.is(await code(tc.client.rpc("sleep", { duration: -1 })), "bad_params");
  } finally {
    sleeper.close();
    other.close();
  }
});

t("clear_cache - echoes its arguments and makes every tracker read domains and hosts afresh", async ({ tc, port }) => {
  const tr = await Tracker.connect(port);
  const store = await openStore(tc.cluster.mongoUrl, tc.cluster.db, createLogger({ role: "test" }, "error"), { indexes: false });
  try {
    // MogileFS::Admin->clear_cache sends `all=1` when given nothing; the reply echoes the request
    assert.equal(await tr.ok("clear_cache", { all: 1 }), { all: "1" });
    assert.equal(await tr.ok("clear_cache", { devices: 1, callid: "c7" }), { devices: "1", callid: "c7" });
    assert.equal(await tr.ok("clear_cache"), {});
    assert.equal(await tc.client.rpc("clear_cache", { all: "1" }), { all: "1" });

    // a domain removed behind the trackers' back (no event) is gone for them after clear_cache
    await tr.ok("create_domain", { domain: "cc" });
    await tr.ok("create_open", { domain: "cc", key: "k" });
    await store.domains.deleteOne({ _id: "cc" });
    await tr.ok("clear_cache");
    assert.is(await tr.err("create_open", { domain: "cc", key: "k" }), "unreg_domain");
  } finally {
    tr.close();
    await store.close();
  }
});

t("errors - the classic port answers MogileFS's error texts; the SDK keeps the specific message", async ({ tc, port }) => {
  const tr = await Tracker.connect(port);
  try {
    await tr.ok("create_domain", { domain: "errs" });
    // [request, code, MogileFS's text (Worker/Query.pm err_line, or the code itself when it has none)]
    const cases: [string, Record<string, string | number>, string, string][] = [
      ["create_open", { domain: "nope", key: "x" }, "unreg_domain", "Domain name invalid/not found"],
      ["get_paths", { domain: "errs", key: "missing" }, "unknown_key", "unknown_key"],
      ["delete", { domain: "errs", key: "missing" }, "unknown_key", "unknown_key"],
      ["create_domain", { domain: "errs" }, "domain_exists", "That domain already exists"],
      ["create_open", { domain: "errs", key: "x", class: "nope" }, "unreg_class", "unreg_class"],
      ["create_class", { domain: "nope", class: "c", mindevcount: 1 }, "domain_not_found", "Domain not found"],
      ["delete_class", { domain: "errs", class: "default" }, "nodel_default_class", "Cannot delete the default class"],
      ["update_class", { domain: "errs", class: "zz", mindevcount: 1 }, "class_not_found", "Class not found"],
      ["list_keys", { domain: "errs", prefix: "none/" }, "none_match", "No keys match that pattern and after-value (if any)."],
      ["update_host", { host: "nobody", status: "down" }, "host_not_found", "Host not found"],
      ["delete_host", { host: "nobody" }, "unknown_host", "Host not found"],
      ["set_state", { host: "nobody", device: 999, state: "down" }, "no_device", "Device not found"],
      ["rebalance_stop", {}, "rebal_not_started", "Rebalance not running"],
      ["rebalance_status", {}, "no_rebal_state", "No available rebalance status"],
      ["rebalance_test", {}, "no_rebal_policy", "No rebalance policy available"],
      ["create_host", { host: "x", port: 1 }, "no_ip", "IP required to create host"],
      ["frobnicate", {}, "unknown_command", "Unknown server command"],
    ];
    for (const [cmd, args, errCode, text] of cases) {
      const a = await tr.call(cmd, args);
      assert.is(a.raw, `ERR ${errCode} ${enc(text)}`, `${cmd} ${JSON.stringify(args)}`);
    }
    // the example tools and apps match on, byte for byte
    assert.is(await tr.raw("create_open domain=nope&key=x"), "ERR unreg_domain Domain+name+invalid/not+found");
    // codes MogileFS words at the call site keep that wording (Expected: …; actual: …; path: …)
    const open = await tr.ok("create_open", { domain: "errs", key: "k" });
    assert.is(await put(open.path, Buffer.from("abc")), 201);
    const bad = await tr.fail("create_close", { domain: "errs", key: "k", fid: open.fid, devid: open.devid, path: open.path, size: 5 });
    assert.is(bad.code, "size_mismatch");
    assert.match(bad.text, /^Expected: 5; actual: 3; path: http:\/\/127\.0\.0\.1:\d+\/dev\d+\//);
    // the SDK (NATS and HTTP) keeps mogile's more specific message
    try {
      await tc.client.rpc("get_paths", { domain: "errs", key: "missing" });
      assert.unreachable("get_paths of a missing key");
    } catch (err) {
      assert.equal([(err as MogileError).code, (err as MogileError).message], ["unknown_key", "unknown key missing in domain errs"]);
    }
  } finally {
    tr.close();
  }
});

t("dup - a host with another host's IP and port is refused, by create_host and update_host, even racing", async ({ tc, port }) => {
  const tr = await Tracker.connect(port);
  try {
    await tr.ok("create_host", { host: "dupa", ip: "127.0.0.51", port: 7801 });
    const dup = await tr.fail("create_host", { host: "dupb", ip: "127.0.0.51", port: 7801 });
    assert.is(dup.raw, `ERR dup ${enc("Duplicate name/number used.")}`);
    // the same IP on another port is another host (several storage agents per machine)
    const b = await tr.ok("create_host", { host: "dupb", ip: "127.0.0.51", port: 7802 });
    // moving onto a taken address is refused and changes nothing, not even the other fields asked for
    assert.is(await tr.err("update_host", { host: "dupb", port: 7801, status: "alive" }), "dup");
    const hosts = await tc.client.rpc("get_hosts", { hostid: Number(b.hostid) });
    assert.equal([hosts.hosts[0].http_port, hosts.hosts[0].status], [7802, "down"]);
    // once the first host moves away, its old address is free (its claim is stale)
    await tr.ok("update_host", { host: "dupa", port: 7803 });
    await tr.ok("update_host", { host: "dupb", port: 7801 });
    assert.is(await tr.err("create_host", { host: "dupc", ip: "127.0.0.51", port: 7801 }), "dup");
    // a storage agent's self-registered address counts too
    const s = tc.cluster.storage[0];
    assert.is(await tr.err("create_host", { host: "dupd", ip: "127.0.0.1", port: s.port }), "dup");
    assert.is(await tr.err("update_host", { host: "dupa", ip: "127.0.0.1", port: s.port }), "dup");
    // a deleted host's address can be used again
    await tr.ok("delete_host", { host: "dupa" });
    await tr.ok("create_host", { host: "dupe", ip: "127.0.0.51", port: 7803 });

    // racing creations of one new address: exactly one wins
    const racers = await Promise.all(Array.from({ length: 6 }, (_, i) => code(tc.client.rpc("create_host", { host: `race${i}`, ip: "127.0.0.52", port: 7900 }))));
    assert.equal(racers.filter((c) => c === "ok").length, 1, racers.join(","));
    assert.equal(racers.filter((c) => c === "dup").length, 5, racers.join(","));
    const all = (await tc.client.rpc("get_hosts", {})).hosts;
    assert.is(all.filter((h) => h.hostip === "127.0.0.52" && h.http_port === 7900).length, 1);
    // and racing moves onto one address
    await Promise.all([0, 1, 2].map((i) => tc.client.rpc("create_host", { host: `mover${i}`, ip: "127.0.0.53", port: 7000 + i })));
    const moves = await Promise.all([0, 1, 2].map((i) => code(tc.client.rpc("update_host", { host: `mover${i}`, port: 7999 }))));
    assert.equal(moves.filter((c) => c === "ok").length, 1, moves.join(","));
    const after = (await tc.client.rpc("get_hosts", {})).hosts.filter((h) => h.hostip === "127.0.0.53");
    assert.is(after.filter((h) => h.http_port === 7999).length, 1);
  } finally {
    tr.close();
  }
});

t("logs - with MOGILE_LOG_FORMAT=json every actor writes one JSON object per line", ({ tc }) => {
  const dir = path.join(tc.dataDir, "logs");
  // actors log as <instance>.log; storage agents' instance is their host name
  const instances = [...tc.cluster.actors.map((a) => a.instance), ...tc.cluster.storage.map((s) => s.host)];
  let lines = 0;
  for (const instance of instances) {
    const text = readFileSync(path.join(dir, `${instance}.log`), "utf8");
    // the text format's lines start with their time: none may be left
    assert.not.match(text, /^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO|WARN|ERROR) /m, `${instance}: a text log line`);
    // (other lines, Node's own warnings, are not the logger's)
    for (const line of text.split("\n").filter((l) => l.startsWith("{"))) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      assert.type(rec.ts, "string", `${instance}: ts`);
      assert.ok(["debug", "info", "warn", "error"].includes(rec.level as string), `${instance}: level`);
      assert.type(rec.role, "string", `${instance}: role`);
      assert.is(rec.instance, instance, `${instance}: instance`);
      assert.type(rec.msg, "string", `${instance}: msg`);
      lines++;
    }
  }
  assert.ok(lines >= instances.length, "every actor logged (at least its start)");
});

t.run();
