// Integration: every tracker command over NATS, with its MogileFS error cases.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { MogileError } from "../protocol/errors.ts";
import { fidPath } from "../protocol/paths.ts";
import { httpRequest, drain } from "../protocol/http.ts";
import { UNSUPPORTED_COMMANDS, type Command, type Request } from "../protocol/schemas.ts";

const t = suite<{ tc: TestCluster }>("commands");
t.before(async (ctx) => { ctx.tc = await startTestCluster("commands"); });
t.after(async (ctx) => { await ctx.tc?.stop(); });

const rpc = <C extends Command>(tc: TestCluster, c: C, a: Request<C>) => tc.client.rpc(c, a);
const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };
const put = (tc: TestCluster, domain: string, key: string, body: Buffer | string, cls?: string) => tc.client.put(domain, key, typeof body === "string" ? Buffer.from(body) : body, { class: cls });

t("domains - create, list, delete, and their refusals", async ({ tc }) => {
  assert.equal(await rpc(tc, "create_domain", { domain: "dom1" }), { domain: "dom1" });
  assert.is(await code(rpc(tc, "create_domain", { domain: "dom1" })), "domain_exists");
  assert.is(await code(rpc(tc, "create_domain", { domain: "0" })), "no_domain");
  assert.is(await code(rpc(tc, "create_domain", {} as never)), "no_domain");
  const list = await rpc(tc, "get_domains", {});
  const d = list.domains.find((x) => x.domain === "dom1")!;
  assert.equal(d.classes, [{ class: "default", mindevcount: 2, replpolicy: "MultipleHosts()", hashtype: "NONE" }]);

  await rpc(tc, "create_class", { domain: "dom1", class: "c1", mindevcount: 1 });
  assert.is(await code(rpc(tc, "delete_domain", { domain: "dom1" })), "domain_has_classes");
  await rpc(tc, "delete_class", { domain: "dom1", class: "c1" });
  await put(tc, "dom1", "f", "x");
  assert.is(await code(rpc(tc, "delete_domain", { domain: "dom1" })), "domain_has_files");
  await rpc(tc, "delete", { domain: "dom1", key: "f" });
  assert.equal(await rpc(tc, "delete_domain", { domain: "dom1" }), { domain: "dom1" });
  assert.is(await code(rpc(tc, "delete_domain", { domain: "dom1" })), "domain_not_found");
  // every query actor forgot it: files cannot be stored there any more
  assert.is(await code(put(tc, "dom1", "g", "x")), "unreg_domain");
});

t("classes - create, update, delete, and their refusals", async ({ tc }) => {
  await rpc(tc, "create_domain", { domain: "cls" });
  assert.equal(await rpc(tc, "create_class", { domain: "cls", class: "a", mindevcount: 3, replpolicy: "MultipleHosts(2)", hashtype: "MD5" }), { domain: "cls", class: "a", mindevcount: 3 });
  assert.is(await code(rpc(tc, "create_class", { domain: "cls", class: "a", mindevcount: 1 })), "class_exists");
  assert.is(await code(rpc(tc, "create_class", { domain: "nope", class: "a", mindevcount: 1 })), "domain_not_found");
  assert.is(await code(rpc(tc, "create_class", { domain: "cls", class: "b", mindevcount: 0 })), "invalid_mindevcount");
  assert.is(await code(rpc(tc, "create_class", { domain: "cls", class: "b", mindevcount: 1, hashtype: "CRC" as never })), "invalid_hashtype");
  assert.is(await code(rpc(tc, "create_class", { domain: "cls", class: "b", mindevcount: 1, replpolicy: "Bogus(" })), "invalid_replpolicy");
  assert.is(await code(rpc(tc, "create_class", { domain: "cls", mindevcount: 1 } as never)), "no_class");

  await rpc(tc, "update_class", { domain: "cls", class: "a", mindevcount: 1, hashtype: "NONE" });
  await rpc(tc, "update_class", { domain: "cls", class: "default", mindevcount: 1 });
  const classes = (await rpc(tc, "get_domains", {})).domains.find((d) => d.domain === "cls")!.classes;
  assert.equal(classes.find((c) => c.class === "a"), { class: "a", mindevcount: 1, replpolicy: "MultipleHosts(2)", hashtype: "NONE" });
  assert.is(classes.find((c) => c.class === "default")!.mindevcount, 1);
  assert.is(await code(rpc(tc, "update_class", { domain: "cls", class: "zz", mindevcount: 1 })), "class_not_found");

  await put(tc, "cls", "in-a", "x", "a");
  assert.is(await code(rpc(tc, "delete_class", { domain: "cls", class: "a" })), "class_has_files");
  assert.is(await code(rpc(tc, "delete_class", { domain: "cls", class: "default" })), "nodel_default_class");
  assert.is(await code(rpc(tc, "delete_class", { domain: "cls", class: "zz" })), "class_not_found");
  assert.is(await code(rpc(tc, "delete_class", { domain: "nope", class: "zz" })), "domain_not_found");
});

t("hosts and devices - create, update, state, weight, delete", async ({ tc }) => {
  const h = await rpc(tc, "create_host", { host: "spare", ip: "127.0.0.9", port: 7599, getport: 7598, altip: "10.0.0.9", altmask: "10.0.0.0/8" });
  assert.is(h.hostname, "spare");
  assert.is(await code(rpc(tc, "create_host", { host: "spare", ip: "127.0.0.9", port: 7599 })), "host_exists");
  assert.is(await code(rpc(tc, "create_host", { host: "x", port: 1 } as never)), "no_ip");
  assert.is(await code(rpc(tc, "create_host", { host: "x", ip: "1.2.3.4" } as never)), "no_port");
  assert.is(await code(rpc(tc, "create_host", { ip: "1.2.3.4", port: 1 } as never)), "no_host");
  assert.is(await code(rpc(tc, "create_host", { host: "x", ip: "1.2.3.4", port: 1, status: "sleepy" as never })), "unknown_state");
  const got = (await rpc(tc, "get_hosts", { hostid: h.hostid })).hosts;
  assert.equal(got, [{ hostid: h.hostid, hostname: "spare", hostip: "127.0.0.9", http_port: 7599, http_get_port: 7598, altip: "10.0.0.9", altmask: "10.0.0.0/8", status: "down" }]);
  await rpc(tc, "update_host", { host: "spare", status: "alive", port: 7597 });
  assert.is((await rpc(tc, "get_hosts", { hostid: h.hostid })).hosts[0].http_port, 7597);
  assert.is(await code(rpc(tc, "update_host", { host: "nobody", status: "alive" })), "host_not_found");

  await rpc(tc, "create_device", { devid: 90, hostname: "spare", state: "down" });
  assert.is(await code(rpc(tc, "create_device", { devid: 90, hostname: "spare" })), "existing_devid");
  assert.is(await code(rpc(tc, "create_device", { devid: 91 })), "bad_args");
  assert.is(await code(rpc(tc, "create_device", { devid: 91, hostname: "nobody" })), "unknown_host");
  assert.is(await code(rpc(tc, "create_device", { devid: 91, hostid: 999 })), "unknown_hostid");
  assert.is(await code(rpc(tc, "create_device", { devid: 0, hostname: "spare" })), "invalid_devid");
  assert.is(await code(rpc(tc, "create_device", { devid: 91, hostname: "spare", state: "weird" as never })), "invalid_state");

  await rpc(tc, "set_weight", { host: "spare", device: 90, weight: 50 });
  await rpc(tc, "set_state", { host: "spare", device: 90, state: "dead" });
  assert.is(await code(rpc(tc, "set_state", { host: "spare", device: 90, state: "alive" })), "state_too_high");
  await rpc(tc, "set_state", { host: "spare", device: 90, state: "readonly" });
  const dev = (await rpc(tc, "get_devices", { devid: 90 })).devices[0];
  assert.equal({ status: dev.status, weight: dev.weight, hostid: dev.hostid }, { status: "readonly", weight: 50, hostid: h.hostid });
  assert.is(await code(rpc(tc, "set_state", { host: "spare", device: 1, state: "down" })), "host_mismatch");
  assert.is(await code(rpc(tc, "set_state", { host: "spare", device: 999, state: "down" })), "no_device");
  assert.is(await code(rpc(tc, "set_weight", { host: "spare", device: 1, weight: 5 })), "host_mismatch");

  assert.is(await code(rpc(tc, "delete_host", { host: "spare" })), "host_not_empty");
  await rpc(tc, "create_host", { host: "empty", ip: "127.0.0.8", port: 7596 });
  assert.equal(await rpc(tc, "delete_host", { host: "empty" }), {});
  assert.is(await code(rpc(tc, "delete_host", { host: "empty" })), "unknown_host");

  // the real devices report usage and observed state
  const live = (await rpc(tc, "get_devices", {})).devices.filter((d) => d.devid <= 6);
  assert.is(live.length, 6);
  for (const d of live) {
    assert.is(d.observed_state, "writeable");
    assert.ok(d.mb_total! > 0 && d.mb_free! > 0 && d.utilization! >= 0);
  }
});

t("files - rename, updateclass, file_info, file_debug, list_fids", async ({ tc }) => {
  await rpc(tc, "create_domain", { domain: "f" });
  await rpc(tc, "create_class", { domain: "f", class: "one", mindevcount: 1 });
  const a = await put(tc, "f", "a", "alpha");
  await put(tc, "f", "b", "beta");
  assert.is(await code(rpc(tc, "rename", { domain: "f", from_key: "a", to_key: "b" })), "key_exists");
  assert.is(await code(rpc(tc, "rename", { domain: "f", from_key: "zz", to_key: "c" })), "unknown_key");
  assert.equal(await rpc(tc, "rename", { domain: "f", from_key: "a", to_key: "c" }), {});
  assert.is(await code(tc.client.getPaths("f", "a")), "unknown_key");
  const info = await rpc(tc, "file_info", { domain: "f", key: "c", devices: true });
  assert.is(info.fid, a.fid);
  assert.is(info.length, 5);
  assert.is(info.key, "c");
  assert.ok(Array.isArray(info.devids));
  assert.is((await rpc(tc, "file_info", { domain: "f", key: "c" })).devids, undefined);

  assert.equal(await rpc(tc, "updateclass", { domain: "f", key: "c", class: "one" }), {});
  assert.is((await rpc(tc, "file_info", { domain: "f", key: "c" })).class, "one");
  assert.is(await code(rpc(tc, "updateclass", { domain: "f", key: "c", class: "nope" })), "class_not_found");
  assert.is(await code(rpc(tc, "updateclass", { domain: "f", key: "zz", class: "one" })), "invalid_key");

  const dbg = await rpc(tc, "file_debug", { fid: a.fid });
  assert.is(dbg.key, "c");
  assert.is(dbg.domain, "f");
  assert.ok(dbg.devids.length >= 1);
  assert.ok(dbg.devpaths[String(dbg.devids[0])].endsWith(fidPath(dbg.devids[0], a.fid)));
  assert.is(dbg.tempfile, null);
  assert.is((await rpc(tc, "file_debug", { domain: "f", key: "c" })).fid, a.fid);
  assert.is(await code(rpc(tc, "file_debug", { fid: 987654 })), "unknown_fid");
  const open = await rpc(tc, "create_open", { domain: "f", key: "pending" });
  const pending = await rpc(tc, "file_debug", { fid: open.fid });
  assert.is(pending.tempfile?.key, "pending");

  const fids = await rpc(tc, "list_fids", { from: 0, to: 1000 });
  assert.ok(fids.fid_count >= 2);
  const ordered = fids.fids.map((f) => f.fid);
  assert.equal(ordered, [...ordered].sort((x, y) => x - y));
  const after = await rpc(tc, "list_fids", { from: a.fid, to: 1 });
  assert.is(after.fid_count, 1);
  assert.ok(after.fids[0].fid > a.fid);
});

t("files - a fid hint is used when free, refused when it may be taken", async ({ tc }) => {
  await rpc(tc, "create_domain", { domain: "hint" });
  const open = await rpc(tc, "create_open", { domain: "hint", key: "k", fid: 50_000_000 });
  assert.is(open.fid, 50_000_000);
  assert.is(await code(rpc(tc, "create_open", { domain: "hint", key: "k", fid: 50_000_000 })), "fid_in_use");
  assert.is(await code(rpc(tc, "create_open", { domain: "hint", key: "k", fid: 1 })), "fid_in_use");
  // later allocations never collide with it
  const next = await rpc(tc, "create_open", { domain: "hint", key: "k2" });
  assert.is.not(next.fid, 50_000_000);
});

t("files - checksums are verified at create_close and stored for the class hash type", async ({ tc }) => {
  await rpc(tc, "create_domain", { domain: "sum" });
  await rpc(tc, "create_class", { domain: "sum", class: "md5", mindevcount: 1, hashtype: "MD5" });
  const body = randomBytes(5000);
  const md5 = createHash("md5").update(body).digest("hex");
  const upload = async (key: string, checksum: string, verify: boolean) => {
    const open = await rpc(tc, "create_open", { domain: "sum", key, class: "md5" });
    const res = await httpRequest(open.path, { method: "PUT", body });
    await drain(res);
    return { open, close: rpc(tc, "create_close", { domain: "sum", key, fid: open.fid, devid: open.devid, path: open.path, size: body.length, checksum, checksumverify: verify }) };
  };
  const good = await upload("good", `MD5:${md5.toUpperCase()}`, true);
  await good.close;
  assert.is((await rpc(tc, "file_info", { domain: "sum", key: "good" })).checksum, `MD5:${md5}`);

  const bad = await upload("bad", `MD5:${"0".repeat(32)}`, true);
  assert.is(await code(bad.close), "checksum_mismatch");
  assert.is(await code(tc.client.getPaths("sum", "bad")), "unknown_key");
  const host = tc.cluster.storage.find((s) => s.devids.includes(bad.open.devid))!;
  await until(() => !existsSync(path.join(host.root, fidPath(bad.open.devid, bad.open.fid))), 20_000, "mismatched upload discarded");

  assert.is(await code(rpc(tc, "create_close", { domain: "sum", key: "x", fid: 1, devid: 1, path: "http://x/dev1/0/000/000/0000000001.fid", checksum: "MD5:xyz" })), "invalid_checksum_format");
  await put(tc, "sum", "nosum", "no checksum given", "md5");
  // the class has a hash type: the digest its storage agent computed is stored
  assert.is((await rpc(tc, "file_info", { domain: "sum", key: "nosum" })).checksum, `MD5:${createHash("md5").update("no checksum given").digest("hex")}`);
});

t("files - create_close refuses bogus paths and foreign devices", async ({ tc }) => {
  await rpc(tc, "create_domain", { domain: "close" });
  const open = await rpc(tc, "create_open", { domain: "close", key: "k" });
  assert.is(await code(rpc(tc, "create_close", { domain: "close", key: "k", fid: open.fid, devid: open.devid, path: "http://127.0.0.1:1/elsewhere" })), "bogus_args");
  // a device the upload was not given (neither its destination nor the chain's further copies)
  const chained = (new URL(open.path).searchParams.get("c") ?? "").split(",").filter(Boolean).map((h) => Number(h.split("@")[0]));
  const other = [1, 2, 3, 4, 5, 6].find((d) => d !== open.devid && !chained.includes(d))!;
  const otherPath = open.path.replace(fidPath(open.devid, open.fid), fidPath(other, open.fid));
  assert.is(await code(rpc(tc, "create_close", { domain: "close", key: "k", fid: open.fid, devid: other, path: otherPath })), "invalid_destdev");
  assert.is(await code(rpc(tc, "create_close", { domain: "close", key: "k", devid: 1, path: "p" } as never)), "no_fid");
  // an empty key discards the upload and answers OK
  const open2 = await rpc(tc, "create_open", { domain: "close" });
  assert.equal((await rpc(tc, "create_close", { domain: "close", key: "", fid: open2.fid, devid: open2.devid, path: open2.path })).key, "");
});

t("control - noop, settings, stats, replicate_now, unsupported commands", async ({ tc }) => {
  assert.equal(await rpc(tc, "noop", {}), {});
  assert.equal(await rpc(tc, "server_setting", { key: "memcache_ttl" }), { key: "memcache_ttl", value: "" });
  await rpc(tc, "set_server_setting", { key: "memcache_ttl", value: "60" });
  await rpc(tc, "set_server_setting", { key: "case_sensitive_list_keys", value: "yes" });
  assert.equal(await rpc(tc, "server_setting", { key: "memcache_ttl" }), { key: "memcache_ttl", value: "60" });
  assert.equal((await rpc(tc, "server_settings", {})).settings, { case_sensitive_list_keys: "1", memcache_ttl: "60" });
  assert.is(await code(rpc(tc, "set_server_setting", { key: "schema_version", value: "1" })), "not_writable");
  assert.is(await code(rpc(tc, "set_server_setting", { key: "memcache_ttl", value: "soon" })), "invalid_format");
  assert.is(await code(rpc(tc, "set_server_setting", { key: "skip_mkcol", value: "maybe" })), "invalid_format");

  const s = await rpc(tc, "stats", {});
  assert.ok(s.domains >= 1 && s.hosts >= 3 && s.devices >= 6 && s.files >= 1);
  assert.type(s.replicate_queue, "number");
  assert.type(s.open_uploads, "number");
  assert.equal(await rpc(tc, "replicate_now", {}), { count: 0 });

  for (const c of UNSUPPORTED_COMMANDS) {
    const msg = await tc.client.nc.request(`mogile.rpc.${c}`, "{}", { timeout: 5_000 });
    assert.is(JSON.parse(msg.string()).error, "unsupported_command", c);
  }
});

t.run();
