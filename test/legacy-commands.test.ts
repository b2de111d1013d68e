// Every tracker command over the classic protocol (raw TCP), with the exact `ERR <code>` MogileFS gives
// and the reply fields MogileFS clients parse (MOGILEFS-PROTOCOL.md §2–3). Mirrors commands.test.ts.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { Tracker, get, put, store } from "./helpers/tracker.ts";
import { fidPath } from "../protocol/paths.ts";
import { requests, UNSUPPORTED_COMMANDS } from "../protocol/schemas.ts";
import { INTERNAL } from "../actors/legacy/dispatch.ts";

type Ctx = { tc: TestCluster; port: number; trackers: Tracker[] };
const t = suite<Ctx>("legacy commands");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("legacy-commands");
  ctx.port = ctx.tc.cluster.legacyPort;
  ctx.trackers = [];
});
t.after(async (ctx) => {
  for (const tr of ctx.trackers ?? []) tr.close();
  await ctx.tc?.stop();
});

/** a connection whose commands count towards the coverage check; admin commands may be slow on a busy machine */
async function connect(ctx: Ctx): Promise<Tracker> {
  const tr = await Tracker.connect(ctx.port, 60_000);
  ctx.trackers.push(tr);
  return tr;
}
/** MogileFS's fsck and rebalance commands (§2.5–2.6) */
const FSCK_AND_REBALANCE = [
  "fsck_start", "fsck_stop", "fsck_reset", "fsck_clearlog", "fsck_getlog", "fsck_status",
  "rebalance_set_policy", "rebalance_test", "rebalance_start", "rebalance_stop", "rebalance_status", "rebalance_reset",
];
const sorted = (o: object) => Object.keys(o).sort();
const range = (n: number | string) => Array.from({ length: Number(n) }, (_, i) => i + 1);
/** the fields of one row of a numbered list reply (`domain3…`, `host2_…`), so domain1 never picks up domain10 */
function row(fields: Record<string, string>, re: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter(([k]) => re.test(k)));
}
/** open an upload (single destination) and PUT `body` to it */
async function openPut(tr: Tracker, domain: string, key: string, body: Buffer, cls?: string) {
  const open = await tr.ok("create_open", { domain, key, ...(cls ? { class: cls } : {}) });
  const status = await put(open.path, body);
  assert.ok(status >= 200 && status < 300, `PUT ${open.path}: ${status}`);
  return open;
}
const closeArgs = (domain: string, key: string, open: Record<string, string>) => ({ domain, key, fid: open.fid, devid: open.devid, path: open.path });

// ---------------------------------------------------------------------------------------------

t("domains - create_domain, delete_domain, get_domains and their refusals", async (ctx) => {
  const tr = await connect(ctx);
  assert.equal(await tr.ok("create_domain", { domain: "ld" }), { domain: "ld" });
  assert.is(await tr.err("create_domain", { domain: "ld" }), "domain_exists");
  const none = await tr.fail("create_domain", {});
  assert.equal([none.code, none.text], ["no_domain", "No domain provided"]);
  assert.is(await tr.err("create_domain", { domain: "" }), "no_domain");
  assert.is(await tr.err("create_domain", { domain: "0" }), "no_domain");
  // a name that needs encoding comes back decoded
  const odd = "dom é+&=%/x y";
  assert.equal(await tr.ok("create_domain", { domain: odd }), { domain: odd });

  const d = await tr.ok("get_domains");
  for (const k of Object.keys(d)) assert.match(k, /^(domains|domain\d+(classes|class\d+(name|mindevcount|replpolicy|hashtype))?)$/, k);
  const names = range(d.domains).map((i) => d[`domain${i}`]);
  assert.ok(names.includes(odd), "the encoded domain is listed decoded");
  const i = names.indexOf("ld") + 1;
  assert.ok(i > 0, "domain ld listed");
  assert.equal(row(d, new RegExp(`^domain${i}(classes|class\\d+\\w+)?$`)), {
    [`domain${i}`]: "ld", [`domain${i}classes`]: "1",
    [`domain${i}class1name`]: "default", [`domain${i}class1mindevcount`]: "2",
    [`domain${i}class1replpolicy`]: "MultipleHosts()", [`domain${i}class1hashtype`]: "NONE",
  });
  // mogile addition: update_domain sets access options; get_domains lists them only when on
  assert.equal(await tr.ok("update_domain", { domain: "ld", anonymous_read: 1 }), { domain: "ld", signed_get: "0", anonymous_read: "1" });
  assert.is((await tr.ok("get_domains"))[`domain${i}anonymous_read`], "1");
  assert.equal(await tr.ok("update_domain", { domain: "ld", anonymous_read: 0 }), { domain: "ld", signed_get: "0", anonymous_read: "0" });
  assert.is(await tr.err("update_domain", { domain: "nope" }), "domain_not_found");

  await tr.ok("create_class", { domain: "ld", class: "c1", mindevcount: 1 });
  assert.is(await tr.err("delete_domain", { domain: "ld" }), "domain_has_classes");
  await tr.ok("delete_class", { domain: "ld", class: "c1" });
  await store(tr, "ld", "f", Buffer.from("x"));
  assert.is(await tr.err("delete_domain", { domain: "ld" }), "domain_has_files");
  assert.equal(await tr.ok("delete", { domain: "ld", key: "f" }), {});
  assert.equal(await tr.ok("delete_domain", { domain: "ld" }), { domain: "ld" });
  assert.is(await tr.err("delete_domain", { domain: "ld" }), "domain_not_found");
  assert.is(await tr.err("delete_domain", {}), "no_domain");
  assert.is(await tr.err("delete_domain", { domain: "" }), "no_domain");
  assert.is(await tr.err("create_open", { domain: "ld", key: "g" }), "unreg_domain");
  assert.equal(await tr.ok("delete_domain", { domain: odd }), { domain: odd });
  const after = await tr.ok("get_domains");
  assert.ok(!range(after.domains).some((k) => [odd, "ld"].includes(after[`domain${k}`])), "deleted domains are gone");
});

t("classes - create_class, update_class, delete_class and their refusals", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "lcls" });
  assert.equal(
    await tr.ok("create_class", { domain: "lcls", class: "a", mindevcount: 3, replpolicy: "MultipleHosts(2)", hashtype: "MD5" }),
    { class: "a", mindevcount: "3", domain: "lcls" },
  );
  assert.is(await tr.err("create_class", { domain: "lcls", class: "a", mindevcount: 1 }), "class_exists");
  assert.is(await tr.err("create_class", { domain: "nope", class: "a", mindevcount: 1 }), "domain_not_found");
  const low = await tr.fail("create_class", { domain: "lcls", class: "b", mindevcount: 0 });
  assert.is(low.code, "invalid_mindevcount");
  assert.is(await tr.err("create_class", { domain: "lcls", class: "b", mindevcount: "two" }), "invalid_mindevcount");
  assert.is(await tr.err("create_class", { domain: "lcls", class: "b" }), "invalid_mindevcount");
  assert.is(await tr.err("create_class", { domain: "lcls", class: "b", mindevcount: 1, hashtype: "CRC" }), "invalid_hashtype");
  assert.is(await tr.err("create_class", { domain: "lcls", class: "b", mindevcount: 1, replpolicy: "Bogus(" }), "invalid_replpolicy");
  assert.is(await tr.err("create_class", { domain: "lcls", mindevcount: 1 }), "no_class");
  assert.is(await tr.err("create_class", { domain: "lcls", class: "", mindevcount: 1 }), "no_class");
  assert.is(await tr.err("create_class", { class: "b", mindevcount: 1 }), "no_domain");
  // empty replpolicy / hashtype are absent: the defaults apply
  assert.equal(await tr.ok("create_class", { domain: "lcls", class: "b", mindevcount: 2, replpolicy: "", hashtype: "" }), { class: "b", mindevcount: "2", domain: "lcls" });

  assert.equal(await tr.ok("update_class", { domain: "lcls", class: "a", mindevcount: 1, hashtype: "NONE" }), { class: "a", mindevcount: "1", domain: "lcls" });
  assert.equal(await tr.ok("update_class", { domain: "lcls", class: "default", mindevcount: 1 }), { class: "default", mindevcount: "1", domain: "lcls" });
  assert.is(await tr.err("update_class", { domain: "lcls", class: "zz", mindevcount: 1 }), "class_not_found");
  assert.is(await tr.err("update_class", { domain: "nope", class: "a", mindevcount: 1 }), "domain_not_found");
  assert.is(await tr.err("update_class", { domain: "lcls", class: "a", mindevcount: 0 }), "invalid_mindevcount");
  assert.is(await tr.err("update_class", { domain: "lcls", class: "a", mindevcount: 1, hashtype: "CRC" }), "invalid_hashtype");
  assert.is(await tr.err("update_class", { domain: "lcls", class: "a", mindevcount: 1, replpolicy: "Nope()" }), "invalid_replpolicy");
  assert.is(await tr.err("update_class", { domain: "lcls", mindevcount: 1 }), "no_class");
  assert.is(await tr.err("update_class", { class: "a", mindevcount: 1 }), "no_domain");

  const d = await tr.ok("get_domains");
  const i = range(d.domains).find((k) => d[`domain${k}`] === "lcls")!;
  const classes = Object.fromEntries(range(d[`domain${i}classes`]).map((j) => [d[`domain${i}class${j}name`], {
    mindevcount: d[`domain${i}class${j}mindevcount`], replpolicy: d[`domain${i}class${j}replpolicy`], hashtype: d[`domain${i}class${j}hashtype`],
  }]));
  assert.equal(classes, {
    default: { mindevcount: "1", replpolicy: "MultipleHosts()", hashtype: "NONE" },
    a: { mindevcount: "1", replpolicy: "MultipleHosts(2)", hashtype: "NONE" },
    b: { mindevcount: "2", replpolicy: "MultipleHosts()", hashtype: "NONE" },
  });

  await store(tr, "lcls", "in-a", Buffer.from("x"), "a");
  assert.is(await tr.err("delete_class", { domain: "lcls", class: "a" }), "class_has_files");
  const def = await tr.fail("delete_class", { domain: "lcls", class: "default" });
  assert.equal([def.code, def.text], ["nodel_default_class", "Cannot delete the default class"]);
  assert.is(await tr.err("delete_class", { domain: "lcls", class: "zz" }), "class_not_found");
  assert.is(await tr.err("delete_class", { domain: "nope", class: "zz" }), "domain_not_found");
  assert.is(await tr.err("delete_class", { class: "b" }), "no_domain");
  assert.equal(await tr.ok("delete_class", { domain: "lcls", class: "b" }), { domain: "lcls", class: "b" });
  assert.is(await tr.err("delete_class", { domain: "lcls", class: "b" }), "class_not_found");
});

t("hosts - create_host, update_host, get_hosts, delete_host and their refusals", async (ctx) => {
  const tr = await connect(ctx);
  const h = await tr.ok("create_host", { host: "lspare", ip: "127.0.0.19", port: 7699, getport: 7698, altip: "10.0.0.19", altmask: "10.0.0.0/8" });
  assert.equal(sorted(h), ["hostid", "hostname"]);
  assert.is(h.hostname, "lspare");
  assert.match(h.hostid, /^\d+$/);
  assert.is(await tr.err("create_host", { host: "lspare", ip: "127.0.0.19", port: 7699 }), "host_exists");
  assert.is(await tr.err("create_host", { host: "x", port: 1 }), "no_ip");
  assert.is(await tr.err("create_host", { host: "x", ip: "", port: 1 }), "no_ip");
  assert.is(await tr.err("create_host", { host: "x", ip: "1.2.3.4" }), "no_port");
  assert.is(await tr.err("create_host", { host: "x", ip: "1.2.3.4", port: "" }), "no_port");
  assert.is(await tr.err("create_host", { ip: "1.2.3.4", port: 1 }), "no_host");
  assert.is(await tr.err("create_host", { host: "x", ip: "1.2.3.4", port: 1, status: "sleepy" }), "unknown_state");

  const one = await tr.ok("get_hosts", { hostid: h.hostid });
  assert.equal(one, {
    hosts: "1", host1_hostid: h.hostid, host1_status: "down", host1_hostname: "lspare", host1_hostip: "127.0.0.19",
    host1_http_port: "7699", host1_http_get_port: "7698", host1_altip: "10.0.0.19", host1_altmask: "10.0.0.0/8",
  });
  // an empty hostid is absent: every host
  const all = await tr.ok("get_hosts", { hostid: "" });
  assert.is(all.hosts, String(ctx.tc.cluster.storage.length + 1));
  assert.equal(all, await tr.ok("get_hosts"));
  for (const k of range(all.hosts)) {
    assert.equal(sorted(row(all, new RegExp(`^host${k}_`))), ["hostid", "status", "hostname", "hostip", "http_port", "http_get_port", "altip", "altmask"].map((f) => `host${k}_${f}`).sort());
  }
  const storage = range(all.hosts).find((k) => all[`host${k}_hostname`] === ctx.tc.cluster.storage[0].host)!;
  // a host without getport/altip/altmask sends them as `key=`
  assert.equal([all[`host${storage}_http_get_port`], all[`host${storage}_altip`], all[`host${storage}_altmask`]], ["", "", ""]);

  assert.equal(await tr.ok("update_host", { host: "lspare", status: "alive", port: 7697 }), { hostid: h.hostid, hostname: "lspare" });
  const upd = await tr.ok("get_hosts", { hostid: h.hostid });
  assert.equal([upd.host1_status, upd.host1_http_port, upd.host1_http_get_port], ["alive", "7697", "7698"]);
  assert.is(await tr.err("update_host", { host: "nobody", status: "alive" }), "host_not_found");
  assert.is(await tr.err("update_host", { host: "lspare", status: "sleepy" }), "unknown_state");
  assert.is(await tr.err("update_host", { status: "alive" }), "no_host");
  await tr.ok("update_host", { host: "lspare", status: "down" });

  await tr.ok("create_device", { devid: 190, hostid: h.hostid, state: "down" });
  assert.is(await tr.err("delete_host", { host: "lspare" }), "host_not_empty");
  await tr.ok("create_host", { host: "lempty", ip: "127.0.0.18", port: 7696 });
  // MogileFS answers delete_host with no fields
  assert.is(await tr.raw("delete_host host=lempty"), "OK ");
  assert.is(await tr.err("delete_host", { host: "lempty" }), "unknown_host");
  const gone = await tr.ok("get_hosts");
  assert.ok(!range(gone.hosts).some((k) => gone[`host${k}_hostname`] === "lempty"), "deleted host is gone");
});

t("devices - create_device, get_devices, set_state, set_weight and their refusals", async (ctx) => {
  const tr = await connect(ctx);
  const all = await tr.ok("get_hosts");
  const k = range(all.hosts).find((x) => all[`host${x}_hostname`] === "lspare")!;
  const hostid = all[`host${k}_hostid`];

  assert.equal(await tr.ok("create_device", { devid: 191, hostname: "lspare", state: "down" }), { devid: "191", hostid });
  assert.is(await tr.err("create_device", { devid: 191, hostname: "lspare" }), "existing_devid");
  assert.is(await tr.err("create_device", { devid: 190, hostid }), "existing_devid");
  const noHost = await tr.fail("create_device", { devid: 192 });
  assert.is(noHost.code, "bad_args");
  // empty hostid is absent: with a hostname it is the hostname that counts, alone it is no host at all
  assert.is(await tr.err("create_device", { devid: 192, hostid: "" }), "bad_args");
  assert.is(await tr.err("create_device", { devid: 192, hostid: "", hostname: "nobody" }), "unknown_host");
  assert.is(await tr.err("create_device", { devid: 192, hostname: "nobody" }), "unknown_host");
  assert.is(await tr.err("create_device", { devid: 192, hostid: 999 }), "unknown_hostid");
  assert.is(await tr.err("create_device", { devid: 0, hostname: "lspare" }), "invalid_devid");
  assert.is(await tr.err("create_device", { devid: "x1", hostname: "lspare" }), "invalid_devid");
  assert.is(await tr.err("create_device", { devid: 192, hostname: "lspare", state: "weird" }), "invalid_state");

  const dev = await tr.ok("get_devices", { devid: 191 });
  assert.equal(sorted(dev), ["devices", ...["devid", "hostid", "status", "weight", "mb_total", "mb_used", "mb_free", "mb_asof", "observed_state", "utilization", "reject_bad_md5"].map((f) => `dev1_${f}`)].sort());
  assert.equal([dev.devices, dev.dev1_devid, dev.dev1_hostid, dev.dev1_status, dev.dev1_weight, dev.dev1_mb_asof], ["1", "191", hostid, "down", "100", ""]);
  const everything = await tr.ok("get_devices", { devid: "" });
  const want = ctx.tc.cluster.storage.reduce((n, s) => n + s.devids.length, 0) + 2;
  assert.is(everything.devices, String(want));
  // the same listing as no devid at all (the monitor may observe the spare host's devices in between)
  const plain = await tr.ok("get_devices");
  const ids = (r: Record<string, string>) => range(r.devices).map((i) => `${r[`dev${i}_devid`]}@${r[`dev${i}_hostid`]}:${r[`dev${i}_status`]}`);
  assert.equal(sorted(plain), sorted(everything));
  assert.equal(ids(plain), ids(everything));
  const live = range(everything.devices).filter((i) => Number(everything[`dev${i}_devid`]) < 100);
  for (const i of live) {
    assert.is(everything[`dev${i}_observed_state`], "writeable");
    for (const f of ["mb_total", "mb_used", "mb_free"]) assert.match(everything[`dev${i}_${f}`], /^\d+$/, f);
    assert.match(everything[`dev${i}_utilization`], /^\d+(\.\d+)?$/);
  }

  assert.is(await tr.raw("set_weight host=lspare&device=191&weight=50"), "OK ");
  assert.is(await tr.raw("set_state host=lspare&device=191&state=dead"), "OK ");
  const high = await tr.fail("set_state", { host: "lspare", device: 191, state: "alive" });
  assert.equal([high.code, high.text], ["state_too_high", "Status cannot go from dead to alive; must use down"]);
  assert.equal(await tr.ok("set_state", { host: "lspare", device: 191, state: "readonly" }), {});
  const after = await tr.ok("get_devices", { devid: 191 });
  assert.equal([after.dev1_status, after.dev1_weight], ["readonly", "50"]);

  assert.is(await tr.err("set_state", { host: "lspare", device: 1, state: "down" }), "host_mismatch");
  assert.is(await tr.err("set_weight", { host: "lspare", device: 1, weight: 5 }), "host_mismatch");
  assert.is(await tr.err("set_state", { host: "lspare", device: 999, state: "down" }), "no_device");
  assert.is(await tr.err("set_weight", { host: "lspare", device: 999, weight: 5 }), "no_device");
  // any argument problem is bad_params for these two
  for (const args of <Record<string, string | number>[]>[
    { host: "lspare", device: 191, state: "weird" }, { host: "lspare", state: "down" }, { device: 191, state: "down" },
    { host: "lspare", device: 191 }, { host: "lspare", device: 0, state: "down" }, { host: "lspare", device: "", state: "down" },
  ]) assert.is(await tr.err("set_state", args), "bad_params", JSON.stringify(args));
  for (const args of <Record<string, string | number>[]>[
    { host: "lspare", device: 191, weight: -1 }, { host: "lspare", device: 191 }, { device: 191, weight: 1 }, { host: "lspare", weight: 1 },
    { host: "lspare", device: 191, weight: "heavy" },
  ]) assert.is(await tr.err("set_weight", args), "bad_params", JSON.stringify(args));
});

t("create_open - single and multi_dest replies, fid hints, unknown domains and classes", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "lo" });
  await tr.ok("create_class", { domain: "lo", class: "one", mindevcount: 1 });

  const single = await tr.ok("create_open", { domain: "lo", key: "k" });
  assert.equal(sorted(single), ["devid", "fid", "path"]);
  // the PUT URL is signed in its query string (e=expiry, l=max length, c=the chain of further
  // copies for classes wanting more than one, s=signature)
  assert.ok(new URL(single.path).pathname === fidPath(Number(single.devid), Number(single.fid)), single.path);
  assert.match(new URL(single.path).search, /^\?e=\d+&l=\d+(&c=[\w%.-]+)?&s=[\w-]{43}$/);
  assert.equal(sorted(await tr.ok("create_open", { domain: "lo", key: "k", multi_dest: 0 })), ["devid", "fid", "path"]);
  const multi = await tr.ok("create_open", { domain: "lo", key: "k", class: "one", multi_dest: 1 });
  const n = Number(multi.dev_count);
  assert.ok(n >= 1 && n <= 3, `dev_count ${n}`);
  assert.equal(sorted(multi), ["dev_count", "fid", ...range(n).flatMap((i) => [`devid_${i}`, `path_${i}`])].sort());
  for (const i of range(n)) assert.ok(new URL(multi[`path_${i}`]).pathname === fidPath(Number(multi[`devid_${i}`]), Number(multi.fid)));
  // an empty class is absent (the default class); a key may be left out
  assert.match((await tr.ok("create_open", { domain: "lo", class: "" })).fid, /^\d+$/);

  assert.is(await tr.err("create_open", { domain: "lo", key: "k", class: "nope" }), "unreg_class");
  const unreg = await tr.fail("create_open", { domain: "nope", key: "k" });
  assert.equal([unreg.code, unreg.text.length > 0], ["unreg_domain", true]);
  assert.is(await tr.err("create_open", { key: "k" }), "no_domain");
  assert.is(await tr.err("create_open", { domain: "", key: "k" }), "no_domain");

  // fid hints: used when free, fid_in_use when it may be taken; 0 or empty means "allocate one"
  assert.is((await tr.ok("create_open", { domain: "lo", key: "hint", fid: 70_000_000 })).fid, "70000000");
  assert.is(await tr.err("create_open", { domain: "lo", key: "hint", fid: 70_000_000 }), "fid_in_use");
  assert.is(await tr.err("create_open", { domain: "lo", key: "hint", fid: 1 }), "fid_in_use");
  for (const fid of [0, ""]) {
    const auto = await tr.ok("create_open", { domain: "lo", key: "auto", fid });
    assert.ok(Number(auto.fid) > 0 && auto.fid !== "70000000", `fid=${fid} allocates: ${auto.fid}`);
  }
});

t("create_close - every refusal, checksums, and an empty key discarding the upload", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "lc" });
  await tr.ok("create_class", { domain: "lc", class: "one", mindevcount: 1 });
  await tr.ok("create_class", { domain: "lc", class: "md5", mindevcount: 1, hashtype: "MD5" });
  const body = randomBytes(5000);
  const md5 = createHash("md5").update(body).digest("hex");

  // bogus_args leaves the upload open: the right path still closes it; a second close finds nothing
  const a = await openPut(tr, "lc", "a", body, "one");
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "a", a), path: "http://127.0.0.1:1/elsewhere" }), "bogus_args");
  const other = Number(a.devid) === 1 ? 2 : 1;
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "a", a), path: a.path.replace(`/dev${a.devid}/`, `/dev${other}/`) }), "bogus_args");
  assert.is(await tr.raw(`create_close domain=lc&key=a&fid=${a.fid}&devid=${a.devid}&path=${a.path}&size=${body.length}`), "OK ");
  const twice = await tr.fail("create_close", { ...closeArgs("lc", "a", a), size: body.length });
  assert.equal([twice.code, twice.text.length > 0], ["no_temp_file", true]);
  assert.ok((await get((await tr.ok("get_paths", { domain: "lc", key: "a" })).path1)).body.equals(body), "closed file reads back");

  // a device create_open did not hand out
  const b = await openPut(tr, "lc", "b", body, "one");
  const foreign = [1, 2, 3, 4, 5, 6].find((d) => d !== Number(b.devid))!;
  const destdev = await tr.fail("create_close", { ...closeArgs("lc", "b", b), devid: foreign, path: b.path.replace(fidPath(Number(b.devid), Number(b.fid)), fidPath(foreign, Number(b.fid))) });
  assert.is(destdev.code, "invalid_destdev");
  assert.match(destdev.text, /invalid dest/);
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "b", b) }), "no_temp_file"); // the refusal discarded it
  assert.is(await tr.err("get_paths", { domain: "lc", key: "b" }), "unknown_key");

  // sizes: a wrong size is size_mismatch; nothing uploaded is size_verify_error; an empty size is not checked
  const c = await openPut(tr, "lc", "c", body, "one");
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "c", c), size: body.length + 1 }), "size_mismatch");
  assert.is(await tr.err("get_paths", { domain: "lc", key: "c" }), "unknown_key");
  const missing = await tr.ok("create_open", { domain: "lc", key: "missing", class: "one" });
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "missing", missing), size: 1 }), "size_verify_error");
  const unsized = await openPut(tr, "lc", "unsized", body, "one");
  assert.equal(await tr.ok("create_close", { ...closeArgs("lc", "unsized", unsized), size: "", checksum: "", checksumverify: "" }), {});
  assert.is((await tr.ok("file_info", { domain: "lc", key: "unsized" })).length, String(body.length));

  // missing arguments
  assert.is(await tr.err("create_close", { domain: "lc", key: "x", devid: 1, path: "p" }), "no_fid");
  assert.is(await tr.err("create_close", { domain: "lc", key: "x", fid: 1, path: "p" }), "no_devid");
  assert.is(await tr.err("create_close", { domain: "lc", key: "x", fid: 1, devid: 1 }), "no_path");
  assert.is(await tr.err("create_close", { domain: "lc", key: "x", fid: "", devid: 1, path: "p" }), "no_fid");
  assert.is(await tr.err("create_close", { key: "x", fid: 1, devid: 1, path: "p" }), "no_domain");

  // checksums: a malformed one is refused before anything else, a wrong one with checksumverify discards
  const d = await openPut(tr, "lc", "sum-bad", body, "md5");
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "sum-bad", d), checksum: "MD5:xyz" }), "invalid_checksum_format");
  assert.is(await tr.err("create_close", { ...closeArgs("lc", "sum-bad", d), checksum: "CRC32:00" }), "invalid_checksum_format");
  const mismatch = await tr.fail("create_close", { ...closeArgs("lc", "sum-bad", d), size: body.length, checksum: `MD5:${"0".repeat(32)}`, checksumverify: 1 });
  assert.is(mismatch.code, "checksum_mismatch");
  assert.ok(mismatch.text.includes(`MD5:${md5}`), `the text names the actual digest: ${mismatch.text}`);
  assert.is(await tr.err("get_paths", { domain: "lc", key: "sum-bad" }), "unknown_key");
  const e = await openPut(tr, "lc", "sum-good", body, "md5");
  assert.equal(await tr.ok("create_close", { ...closeArgs("lc", "sum-good", e), size: body.length, checksum: `MD5:${md5.toUpperCase()}`, checksumverify: 1 }), {});
  assert.is((await tr.ok("file_info", { domain: "lc", key: "sum-good" })).checksum, `MD5:${md5}`);
  // checksumverify=0 is false; the checksum is still stored for a class of that hash type
  const f = await openPut(tr, "lc", "sum-unverified", body, "md5");
  assert.equal(await tr.ok("create_close", { ...closeArgs("lc", "sum-unverified", f), checksum: `MD5:${md5}`, checksumverify: 0 }), {});
  assert.is((await tr.ok("file_info", { domain: "lc", key: "sum-unverified" })).checksum, `MD5:${md5}`);

  // an empty key discards the upload and answers OK; the key given at close is the one that counts
  const g = await openPut(tr, "lc", "discard-me", body, "one");
  assert.is(await tr.raw(`create_close domain=lc&key=&fid=${g.fid}&devid=${g.devid}&path=${g.path}`), "OK ");
  assert.is(await tr.err("get_paths", { domain: "lc", key: "discard-me" }), "unknown_key");
  assert.is(await tr.err("file_debug", { fid: g.fid }), "unknown_fid");
  const h = await openPut(tr, "lc", "open-key", body, "one");
  assert.equal(await tr.ok("create_close", closeArgs("lc", "close-key", h)), {});
  assert.is((await tr.ok("file_info", { domain: "lc", key: "close-key" })).fid, h.fid);
  assert.is(await tr.err("file_info", { domain: "lc", key: "open-key" }), "unknown_key");
});

t("reads - get_paths, file_info, file_debug with URL-decoded values", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "lr" });
  await tr.ok("create_class", { domain: "lr", class: "one", mindevcount: 1 });
  await tr.ok("create_class", { domain: "lr", class: "three", mindevcount: 3 });
  await tr.ok("create_class", { domain: "lr", class: "md5", mindevcount: 1, hashtype: "MD5" });
  const key = "dir/a b+c&d=e%f é#?;";
  const body = randomBytes(3000);
  const one = await store(tr, "lr", key, body, "one");

  const info = await tr.ok("file_info", { domain: "lr", key });
  assert.equal(info, { fid: one.fid, domain: "lr", class: "one", key, length: String(body.length), devcount: "1" });
  assert.equal(await tr.ok("file_info", { domain: "lr", key, devices: 1 }), { ...info, devids: one.devid });
  assert.equal(await tr.ok("file_info", { domain: "lr", key, devices: 0 }), info);
  assert.equal(await tr.ok("file_info", { domain: "lr", key, devices: "" }), info);
  // a class with a hash type always shows `checksum`: MISSING until one is known (given at close, or computed)
  await store(tr, "lr", "md5-nosum", body, "md5");
  const nosum = (await tr.ok("file_info", { domain: "lr", key: "md5-nosum" })).checksum;
  assert.ok(["MISSING", `MD5:${createHash("md5").update(body).digest("hex")}`].includes(nosum), nosum);
  assert.is(await tr.err("file_info", { domain: "lr", key: "zz" }), "unknown_key");
  assert.is(await tr.err("file_info", { domain: "lr" }), "no_key");
  assert.is(await tr.err("file_info", { domain: "lr", key: "" }), "no_key");
  assert.is(await tr.err("file_info", { domain: "nope", key: "zz" }), "unreg_domain");
  assert.is(await tr.err("file_info", { key: "zz" }), "no_domain");
  // explain (mogile addition): one row per copy, the policy verdict, the reasons to change
  const why = await tr.ok("explain", { domain: "lr", key });
  assert.equal([why.fid, why.copies, why.copy1_devid, why.policy_state, why.wanted], [one.fid, "1", one.devid, "meets", "1"]);
  assert.is(await tr.err("explain", { domain: "lr", key: "zz" }), "unknown_key");

  // get_paths: one copy is one path; the bytes are the bytes stored
  const p = await tr.ok("get_paths", { domain: "lr", key });
  assert.equal(sorted(p), ["path1", "paths"]);
  assert.is(p.paths, "1");
  assert.ok((await get(p.path1)).body.equals(body), "path1 serves the bytes");
  assert.is(await tr.err("get_paths", { domain: "lr", key: "zz" }), "unknown_key");
  assert.is(await tr.err("get_paths", { domain: "lr" }), "no_key");
  assert.is(await tr.err("get_paths", { domain: "lr", key: "" }), "no_key");
  assert.is(await tr.err("get_paths", { domain: "nope", key: key }), "unreg_domain");
  assert.is(await tr.err("get_paths", { key }), "no_domain");

  // pathcount: 2 by default and at least 2; noverify still gives the paths
  await store(tr, "lr", "three", body, "three");
  await until(async () => (await tr.ok("file_info", { domain: "lr", key: "three" })).devcount === "3", 90_000, "3 copies");
  const count = async (args: Record<string, string | number>) => {
    const r = await tr.ok("get_paths", { domain: "lr", key: "three", ...args });
    assert.equal(sorted(r), ["paths", ...range(r.paths).map((i) => `path${i}`)].sort());
    assert.is(new Set(range(r.paths).map((i) => r[`path${i}`])).size, Number(r.paths), "distinct paths");
    return r;
  };
  assert.is((await count({})).paths, "2");
  assert.is((await count({ pathcount: "" })).paths, "2");
  assert.is((await count({ pathcount: 1 })).paths, "2");
  assert.is((await count({ pathcount: 0 })).paths, "2");
  const three = await count({ pathcount: 3 });
  assert.is(three.paths, "3");
  for (const i of range(3)) assert.ok((await get(three[`path${i}`])).body.equals(body), `path${i}`);
  assert.is((await count({ pathcount: 10, noverify: 1 })).paths, "3");
  assert.is((await count({ noverify: 0 })).paths, "2");

  // file_debug by fid and by key; a pending upload shows its tempfile row
  const dbg = await tr.ok("file_debug", { fid: one.fid });
  assert.equal(dbg, {
    fid_fid: one.fid, fid_domain: "lr", fid_dkey: key, fid_key: key, fid_class: "one", fid_length: String(body.length), fid_devcount: "1",
    devids: one.devid, [`devpath_${one.devid}`]: dbg[`devpath_${one.devid}`], checksum: "NONE",
  });
  assert.ok(dbg[`devpath_${one.devid}`].endsWith(fidPath(Number(one.devid), Number(one.fid))), "devpath");
  assert.equal(await tr.ok("file_debug", { domain: "lr", key }), dbg);
  assert.equal(await tr.ok("file_debug", { fid: "", domain: "lr", key }), dbg);
  assert.is(await tr.err("file_debug", { fid: 987_654_321 }), "unknown_fid");
  assert.is(await tr.err("file_debug", { domain: "lr", key: "zz" }), "unknown_key");
  assert.is(await tr.err("file_debug", { domain: "nope", key: "zz" }), "unreg_domain");
  assert.is(await tr.err("file_debug", { domain: "lr" }), "no_key");
  assert.is(await tr.err("file_debug", {}), "no_domain");
  const pending = await tr.ok("create_open", { domain: "lr", key: "pending é", class: "one" });
  const pd = await tr.ok("file_debug", { fid: pending.fid });
  assert.equal(
    [pd.tempfile_fid, pd.tempfile_domain, pd.tempfile_dkey, pd.tempfile_class, pd.tempfile_devids, pd.devids, pd.checksum],
    [pending.fid, "lr", "pending é", "one", pending.devid, pending.devid, "NONE"],
  );
  assert.ok(!Number.isNaN(Date.parse(pd.tempfile_expires)), "tempfile_expires is a date");
  assert.ok(!("fid_fid" in pd), "no file row yet");
});

t("files - delete, rename, updateclass and their refusals", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "lm" });
  await tr.ok("create_class", { domain: "lm", class: "one", mindevcount: 1 });
  await tr.ok("create_class", { domain: "lm", class: "uno", mindevcount: 1 });
  const a = await store(tr, "lm", "a", Buffer.from("alpha"), "one");
  await store(tr, "lm", "b", Buffer.from("beta"), "one");

  assert.is(await tr.err("rename", { domain: "lm", from_key: "a", to_key: "b" }), "key_exists");
  assert.is(await tr.err("rename", { domain: "lm", from_key: "zz", to_key: "c" }), "unknown_key");
  assert.is(await tr.err("rename", { domain: "lm", from_key: "a" }), "no_key");
  assert.is(await tr.err("rename", { domain: "lm", to_key: "c" }), "no_key");
  assert.is(await tr.err("rename", { domain: "lm", from_key: "a", to_key: "" }), "no_key");
  assert.is(await tr.err("rename", { domain: "nope", from_key: "a", to_key: "c" }), "unreg_domain");
  assert.is(await tr.err("rename", { from_key: "a", to_key: "c" }), "no_domain");
  assert.is(await tr.raw("rename domain=lm&from_key=a&to_key=c+d"), "OK ");
  assert.is(await tr.err("get_paths", { domain: "lm", key: "a" }), "unknown_key");
  assert.is((await tr.ok("file_info", { domain: "lm", key: "c d" })).fid, a.fid);

  assert.is(await tr.raw("updateclass domain=lm&key=c+d&class=uno"), "OK ");
  assert.is((await tr.ok("file_info", { domain: "lm", key: "c d" })).class, "uno");
  assert.equal(await tr.ok("updateclass", { domain: "lm", key: "c d", class: "uno" }), {});
  assert.is(await tr.err("updateclass", { domain: "lm", key: "c d", class: "nope" }), "class_not_found");
  assert.is(await tr.err("updateclass", { domain: "lm", key: "zz", class: "one" }), "invalid_key");
  assert.is(await tr.err("updateclass", { domain: "lm", key: "c d" }), "no_class");
  assert.is(await tr.err("updateclass", { domain: "lm", class: "one" }), "no_key");
  assert.is(await tr.err("updateclass", { domain: "nope", key: "c d", class: "one" }), "unreg_domain");

  assert.is(await tr.raw("delete domain=lm&key=c+d"), "OK ");
  assert.is(await tr.err("get_paths", { domain: "lm", key: "c d" }), "unknown_key");
  assert.is(await tr.err("delete", { domain: "lm", key: "c d" }), "unknown_key");
  assert.is(await tr.err("delete", { domain: "lm" }), "no_key");
  assert.is(await tr.err("delete", { domain: "lm", key: "" }), "no_key");
  assert.is(await tr.err("delete", { domain: "nope", key: "b" }), "unreg_domain");
  assert.is(await tr.err("delete", { key: "b" }), "no_domain");
});

t("lists - list_keys (prefix, after, limit) and list_fids (from, `to` as a count)", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "lk" });
  await tr.ok("update_class", { domain: "lk", class: "default", mindevcount: 1 });
  const keys = ["lk/a", "lk/b", "lk/c d", "lk/é", "other/x"];
  const fids: Record<string, string> = {};
  for (const k of keys) fids[k] = (await store(tr, "lk", k, Buffer.from(k))).fid;

  assert.equal(await tr.ok("list_keys", { domain: "lk", prefix: "lk/" }), { key_count: "4", next_after: "lk/é", key_1: "lk/a", key_2: "lk/b", key_3: "lk/c d", key_4: "lk/é" });
  assert.equal(await tr.ok("list_keys", { domain: "lk", prefix: "lk/", limit: 2 }), { key_count: "2", next_after: "lk/b", key_1: "lk/a", key_2: "lk/b" });
  assert.equal(await tr.ok("list_keys", { domain: "lk", prefix: "lk/", after: "lk/b", limit: 2 }), { key_count: "2", next_after: "lk/é", key_1: "lk/c d", key_2: "lk/é" });
  assert.is((await tr.ok("list_keys", { domain: "lk", prefix: "lk/", limit: "" })).key_count, "4");
  assert.is((await tr.ok("list_keys", { domain: "lk", prefix: "lk/", limit: 5000 })).key_count, "4");
  assert.is((await tr.ok("list_keys", { domain: "lk" })).key_count, "5");
  assert.is((await tr.ok("list_keys", { domain: "lk", prefix: "", after: "" })).key_count, "5");
  assert.equal(await tr.ok("list_keys", { domain: "lk", after: "lk/é" }), { key_count: "1", next_after: "other/x", key_1: "other/x" });
  const none = await tr.fail("list_keys", { domain: "lk", prefix: "zz/" });
  assert.equal([none.code, none.text], ["none_match", "No keys match that pattern and after-value (if any)."]);
  assert.is(await tr.err("list_keys", { domain: "lk", prefix: "lk/", after: "lk/é" }), "none_match");
  const mismatch = await tr.fail("list_keys", { domain: "lk", prefix: "lk/", after: "other/x" });
  assert.equal([mismatch.code, mismatch.text], ["after_mismatch", "Pattern does not match the after-value?"]);
  assert.is(await tr.err("list_keys", { domain: "nope" }), "unreg_domain");
  assert.is(await tr.err("list_keys", {}), "no_domain");

  // list_fids: `from` is exclusive, `to` is how many
  const first = Number(fids["lk/a"]);
  assert.equal(await tr.ok("list_fids", { from: first - 1, to: 1 }), {
    fid_count: "1", fid_1_fid: String(first), fid_1_domain: "lk", fid_1_class: "default", fid_1_key: "lk/a", fid_1_length: "4", fid_1_devcount: "1",
  });
  const next = await tr.ok("list_fids", { from: first, to: 1 });
  assert.is(next.fid_count, "1");
  assert.ok(Number(next.fid_1_fid) > first, "from is exclusive");
  const two = await tr.ok("list_fids", { from: first - 1, to: 2 });
  assert.is(two.fid_count, "2");
  assert.equal(sorted(two), ["fid_count", ...[1, 2].flatMap((i) => ["fid", "domain", "class", "key", "length", "devcount"].map((f) => `fid_${i}_${f}`))].sort());

  const all = await tr.ok("list_fids", { from: 0, to: 500 });
  const listed = range(all.fid_count).map((i) => Number(all[`fid_${i}_fid`]));
  assert.equal(listed, [...listed].sort((x, y) => x - y), "ascending");
  for (const k of keys) {
    const i = listed.indexOf(Number(fids[k])) + 1;
    assert.ok(i > 0, `fid of ${k} listed`);
    assert.equal([all[`fid_${i}_key`], all[`fid_${i}_domain`], all[`fid_${i}_length`]], [k, "lk", String(Buffer.byteLength(k))]);
  }
  assert.ok(listed.length < 100, "fewer than 100 files, so the defaults below list them all");
  // empty from/to are absent (0 and 100); a negative count is 500
  assert.equal(await tr.ok("list_fids", { from: "", to: "" }), all);
  assert.equal(await tr.ok("list_fids"), all);
  assert.equal(await tr.ok("list_fids", { to: -1 }), all);
  assert.equal(await tr.ok("list_fids", { from: listed[listed.length - 1], to: 10 }), { fid_count: "0" });
});

t("control - noop, replicate_now, server settings, stats, failed_jobs, unsupported commands", async (ctx) => {
  const tr = await connect(ctx);
  assert.is(await tr.raw("noop "), "OK ");
  assert.is(await tr.raw("NOOP"), "OK ");
  assert.is(await tr.raw("noop callid=7"), "OK callid=7");
  assert.equal(await tr.ok("replicate_now"), { count: "0" });
  // sleep answers an empty OK; clear_cache echoes its arguments (test/mogadm.test.ts has more)
  assert.is(await tr.raw("sleep duration=0.1"), "OK ");
  assert.is(await tr.raw("clear_cache all=1&callid=9"), "OK all=1&callid=9");

  assert.equal(await tr.ok("server_setting", { key: "memcache_ttl" }), { key: "memcache_ttl", value: "" });
  assert.is(await tr.raw("set_server_setting key=memcache_ttl&value=60"), "OK ");
  assert.equal(await tr.ok("server_setting", { key: "memcache_ttl" }), { key: "memcache_ttl", value: "60" });
  assert.equal(await tr.ok("set_server_setting", { key: "case_sensitive_list_keys", value: "yes" }), {});
  const servers = "10.0.0.1:11211, 10.0.0.2:11211 &x=1%";
  assert.equal(await tr.ok("set_server_setting", { key: "memcache_servers", value: servers }), {});
  assert.equal(await tr.ok("server_setting", { key: "memcache_servers" }), { key: "memcache_servers", value: servers });
  assert.equal(await tr.ok("server_settings"), {
    key_count: "3",
    key_1: "case_sensitive_list_keys", value_1: "1",
    key_2: "memcache_servers", value_2: servers,
    key_3: "memcache_ttl", value_3: "60",
  });
  assert.is(await tr.err("set_server_setting", { key: "schema_version", value: "1" }), "not_writable");
  assert.is(await tr.err("set_server_setting", { key: "memcache_ttl", value: "soon" }), "invalid_format");
  assert.is(await tr.err("set_server_setting", { key: "skip_mkcol", value: "maybe" }), "invalid_format");
  const bad = await tr.fail("set_server_setting", { value: "1" });
  assert.equal([bad.code, bad.text.length > 0], ["bad_params", true]);
  assert.is(await tr.err("set_server_setting", { key: "", value: "1" }), "bad_params");
  assert.is(await tr.err("server_setting", {}), "bad_params");
  assert.is(await tr.err("server_setting", { key: "" }), "bad_params");

  const s = await tr.ok("stats");
  assert.equal(sorted(s), ["classes", "delete_queue", "devices", "domains", "failed_jobs", "files", "hosts", "open_uploads", "recovering_devices", "recovery_remaining", "replicate_queue"]);
  for (const [k, v] of Object.entries(s)) assert.match(v, /^\d+$/, k);
  assert.ok(Number(s.hosts) >= 4 && Number(s.devices) >= 8 && Number(s.files) >= 1 && Number(s.domains) >= 1, JSON.stringify(s));

  const fj = await tr.ok("failed_jobs");
  assert.match(fj.job_count, /^\d+$/);
  assert.equal(sorted(fj), ["job_count", ...range(fj.job_count).flatMap((i) => ["kind", "fid", "error", "at", "deliveries"].map((f) => `job_${i}_${f}`))].sort());
  assert.equal(await tr.ok("failed_jobs", { limit: "", kind: "" }), fj);
  assert.match((await tr.ok("failed_jobs", { kind: "replicate", limit: 5 })).job_count, /^\d+$/);
  assert.is(await tr.err("failed_jobs", { kind: "bogus" }), "bad_params");
  assert.is(await tr.err("failed_jobs", { limit: 0 }), "bad_params");

  // fsck and rebalance: forwarded (never unknown_command); while they come with a later issue, unsupported_command
  for (const c of FSCK_AND_REBALANCE) {
    const e = await tr.call(c, { callid: `u-${c}` });
    if ((UNSUPPORTED_COMMANDS as readonly string[]).includes(c)) assert.equal([e.ok, !e.ok && e.code, !e.ok && e.callid], [false, "unsupported_command", `u-${c}`], c);
    else assert.ok(e.ok || e.code !== "unknown_command", `${c}: ${e.raw}`);
  }
});

// Reported, not fixed here (the query actor and schemas are not the legacy actor's): what MogileFS 2.73
// answers (Worker/Query.pm) where mogile differs today. Un-skip once they are fixed.
t("MogileFS answers for edge cases: size=0, checksumverify alone, to=0, limit=0, host checks, clearing altip", async (ctx) => {
  const tr = await connect(ctx);
  await tr.ok("create_domain", { domain: "ldev" });
  await tr.ok("create_class", { domain: "ldev", class: "one", mindevcount: 1 });
  const body = Buffer.from("hello");
  // create_close: `size=0` is "not checked" (mogile: size_mismatch, and the upload is discarded)
  const a = await openPut(tr, "ldev", "size0", body, "one");
  assert.equal(await tr.ok("create_close", { ...closeArgs("ldev", "size0", a), size: 0 }), {});
  // create_close: checksumverify without a checksum verifies nothing (mogile: invalid_checksum_format, upload discarded)
  const b = await openPut(tr, "ldev", "verify-nothing", body, "one");
  assert.equal(await tr.ok("create_close", { ...closeArgs("ldev", "verify-nothing", b), checksumverify: 1 }), {});
  // list_fids: `to=0` is the default count, 100 (mogile: no rows)
  assert.is((await tr.ok("list_fids", { from: 0, to: 0 })).fid_count, (await tr.ok("list_fids", { from: 0 })).fid_count);
  // list_keys: `limit=0` is the default, 1000 (mogile: bad_params)
  assert.is((await tr.ok("list_keys", { domain: "ldev", limit: 0 })).key_count, "2");
  // set_state / set_weight: an existing device named with another host name is host_mismatch (mogile: no_device)
  assert.is(await tr.err("set_state", { host: "nobody", device: 1, state: "down" }), "host_mismatch");
  assert.is(await tr.err("set_weight", { host: "nobody", device: 1, weight: 10 }), "host_mismatch");
  // update_host: an empty altip clears it (mogile: bad_params, although validate.ts keeps altip= on purpose)
  await tr.ok("create_host", { host: "ldev", ip: "127.0.0.41", port: 7101, altip: "10.1.1.1" });
  assert.ok(await tr.ok("update_host", { host: "ldev", altip: "" }));
  // delete_host without a host is unknown_host (mogile: no_host)
  assert.is(await tr.err("delete_host", {}), "unknown_host");
  // create_host of an existing host checks host_exists before ip/port (mogile: no_ip)
  assert.is(await tr.err("create_host", { host: "ldev" }), "host_exists");
});

t("coverage - every command in `requests` except the internal ones (register_storage, key_*) went over the socket", (ctx) => {
  const sent = new Set(ctx.trackers.flatMap((tr) => [...tr.sent]));
  const want = [...new Set([...Object.keys(requests).filter((c) => !INTERNAL.has(c)), ...UNSUPPORTED_COMMANDS, ...FSCK_AND_REBALANCE])];
  assert.equal(want.filter((c) => !sent.has(c)), [], "commands never sent");
});

t.run();
