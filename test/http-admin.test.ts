// Integration: every tracker command through POST /v1/rpc/{command}, and the REST admin routes.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until } from "./helpers/until.ts";
import { keyFetch } from "./helpers/gateway.ts";

const t = suite<{ tc: TestCluster; url: string }>("http-admin");
/** fetch with the cluster's first admin key (the gateway refuses requests without a key) */
let gw: typeof fetch;
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("http-admin");
  ctx.url = ctx.tc.cluster.httpUrl;
  gw = keyFetch(ctx.url, ctx.tc.cluster.adminKey);
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const enc = encodeURIComponent;
interface Answer { status: number; body: any }
async function call(url: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const r = await gw(url + path, init);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
const rpc = (url: string, command: string, body?: unknown) => call(url, "POST", `/v1/rpc/${command}`, body);
/** asserts an error reply: status and MogileFS code */
function fails(a: Answer, status: number, code: string) {
  assert.is(a.body?.error, code, `expected ${code}, got ${JSON.stringify(a.body)}`);
  assert.is(a.status, status, `${code} → ${status}`);
}
function ok(a: Answer, status = 200) {
  assert.is(a.status, status, `expected ${status}, got ${a.status} ${JSON.stringify(a.body)}`);
  return a.body;
}

// ---- the rpc endpoint itself ----

t("rpc - an unknown command is 404 unknown_command; fsck and rebalance commands are served", async ({ url }) => {
  fails(await rpc(url, "no_such_command", {}), 404, "unknown_command");
  fails(await rpc(url, "toString", {}), 404, "unknown_command");
  fails(await rpc(url, "rebalance_status"), 400, "no_rebal_state");
});

t("rpc - sleep answers after its duration, also one longer than the usual 10 s request timeout", async ({ url }) => {
  const t0 = Date.now();
  assert.equal(ok(await rpc(url, "sleep", { duration: 11 })), {});
  assert.ok(Date.now() - t0 >= 10_900, `slept ${Date.now() - t0} ms`);
});

t("rpc - malformed JSON is 400 bad_request; a schema failure gets the MogileFS code and lists its issues", async ({ url }) => {
  fails(await rpc(url, "create_domain", "{not json"), 400, "bad_request");
  let a = await rpc(url, "create_domain", {});
  fails(a, 400, "no_domain");
  assert.ok(Array.isArray(a.body.issues) && a.body.issues.some((i: { path: string }) => i.path === "domain"), JSON.stringify(a.body));
  a = await rpc(url, "create_class", { domain: "x", class: "c", mindevcount: 0 });
  fails(a, 400, "invalid_mindevcount");
  assert.ok(a.body.issues.some((i: { path: string }) => i.path === "mindevcount"));
  fails(await rpc(url, "create_host", { host: "h", ip: "1.2.3.4", port: 99999 }), 400, "bad_params");
  fails(await rpc(url, "set_state", { host: "h", device: 1, state: "sleepy" }), 400, "bad_params");
  fails(await rpc(url, "create_domain", [1, 2]), 400, "bad_params");
  fails(await rpc(url, "list_fids", { from: "abc" }), 400, "bad_params");
});

t("rpc - noop answers an empty body with {}", async ({ url }) => {
  assert.equal(ok(await rpc(url, "noop")), {});
  assert.equal(ok(await rpc(url, "noop", {})), {});
});

// ---- domains and classes ----

t("rpc - create_domain, get_domains, create_class, update_class and their errors", async ({ url }) => {
  assert.equal(ok(await rpc(url, "create_domain", { domain: "rpcd" })), { domain: "rpcd" });
  fails(await rpc(url, "create_domain", { domain: "rpcd" }), 409, "domain_exists");

  assert.equal(ok(await rpc(url, "create_class", { domain: "rpcd", class: "one", mindevcount: 1 })), { domain: "rpcd", class: "one", mindevcount: 1 });
  fails(await rpc(url, "create_class", { domain: "rpcd", class: "one", mindevcount: 1 }), 409, "class_exists");
  fails(await rpc(url, "create_class", { domain: "nodomain", class: "one", mindevcount: 1 }), 404, "domain_not_found");

  const upd = ok(await rpc(url, "update_class", { domain: "rpcd", class: "one", mindevcount: 2, hashtype: "MD5", replpolicy: "MultipleHosts(2)" }));
  assert.equal(upd, { domain: "rpcd", class: "one", mindevcount: 2 });
  fails(await rpc(url, "update_class", { domain: "rpcd", class: "nope", mindevcount: 2 }), 404, "class_not_found");

  const { domains } = ok(await rpc(url, "get_domains"));
  const d = domains.find((x: { domain: string }) => x.domain === "rpcd");
  assert.ok(d, "rpcd is listed");
  const one = d.classes.find((c: { class: string }) => c.class === "one");
  assert.equal(one, { class: "one", mindevcount: 2, replpolicy: "MultipleHosts(2)", hashtype: "MD5" });
  assert.ok(d.classes.some((c: { class: string }) => c.class === "default"), "the default class is listed");
});

t("rpc - delete_class and delete_domain refuse while something remains, then succeed", async ({ url }) => {
  ok(await rpc(url, "create_domain", { domain: "gone" }));
  ok(await rpc(url, "create_class", { domain: "gone", class: "c", mindevcount: 1 }));
  fails(await rpc(url, "delete_domain", { domain: "gone" }), 409, "domain_has_classes");
  fails(await rpc(url, "delete_class", { domain: "gone", class: "default" }), 400, "nodel_default_class");
  fails(await rpc(url, "delete_class", { domain: "gone", class: "nope" }), 404, "class_not_found");
  fails(await rpc(url, "delete_class", { domain: "nodomain", class: "c" }), 404, "domain_not_found");

  // a file keeps its class and its domain alive
  const open = ok(await rpc(url, "create_open", { domain: "gone", key: "k", class: "c" }));
  const body = Buffer.from("hello");
  assert.is((await fetch(open.path, { method: "PUT", body })).status, 201);
  ok(await rpc(url, "create_close", { domain: "gone", key: "k", fid: open.fid, devid: open.devid, path: open.path, size: body.length }));
  fails(await rpc(url, "delete_class", { domain: "gone", class: "c" }), 409, "class_has_files");
  ok(await rpc(url, "delete", { domain: "gone", key: "k" }));

  assert.equal(ok(await rpc(url, "delete_class", { domain: "gone", class: "c" })), { domain: "gone", class: "c" });
  assert.equal(ok(await rpc(url, "delete_domain", { domain: "gone" })), { domain: "gone" });
  fails(await rpc(url, "delete_domain", { domain: "gone" }), 404, "domain_not_found");
  const { domains } = ok(await rpc(url, "get_domains"));
  assert.not.ok(domains.some((x: { domain: string }) => x.domain === "gone"));
});

t("rpc - delete_domain refuses while the domain has files", async ({ url }) => {
  ok(await rpc(url, "create_domain", { domain: "full" }));
  const open = ok(await rpc(url, "create_open", { domain: "full", key: "k" }));
  assert.is((await fetch(open.path, { method: "PUT", body: "x" })).status, 201);
  ok(await rpc(url, "create_close", { domain: "full", key: "k", fid: open.fid, devid: open.devid, path: open.path, size: 1 }));
  fails(await rpc(url, "delete_domain", { domain: "full" }), 409, "domain_has_files");
});

// ---- hosts and devices ----

t("rpc - create_host, update_host, get_hosts, delete_host and their errors", async ({ url }) => {
  const h = ok(await rpc(url, "create_host", { host: "spare", ip: "127.0.0.77", port: 7599 }));
  assert.is(h.hostname, "spare");
  assert.ok(h.hostid > 0);
  fails(await rpc(url, "create_host", { host: "spare", ip: "127.0.0.78", port: 7599 }), 409, "host_exists");

  const u = ok(await rpc(url, "update_host", { host: "spare", getport: 7600, altip: "10.0.0.77", altmask: "10.0.0.0/8", status: "readonly" }));
  assert.equal(u, { hostid: h.hostid, hostname: "spare" });
  fails(await rpc(url, "update_host", { host: "nobody", status: "down" }), 404, "host_not_found");

  const { hosts } = ok(await rpc(url, "get_hosts", { hostid: h.hostid }));
  assert.is(hosts.length, 1);
  assert.equal(hosts[0], {
    hostid: h.hostid, hostname: "spare", hostip: "127.0.0.77", http_port: 7599, http_get_port: 7600,
    altip: "10.0.0.77", altmask: "10.0.0.0/8", status: "readonly",
  });
  const all = ok(await rpc(url, "get_hosts")).hosts;
  assert.ok(all.length >= 4, "3 storage hosts and the spare");

  assert.equal(ok(await rpc(url, "delete_host", { host: "spare" })), {});
  fails(await rpc(url, "delete_host", { host: "spare" }), 404, "unknown_host");
});

t("rpc - create_device, get_devices, set_state, set_weight and their errors", async ({ url }) => {
  const h = ok(await rpc(url, "create_host", { host: "cold", ip: "127.0.0.88", port: 7598 }));
  const dev = ok(await rpc(url, "create_device", { devid: 90, hostname: "cold", state: "down" }));
  assert.equal(dev, { devid: 90, hostid: h.hostid });
  ok(await rpc(url, "create_device", { devid: 91, hostid: h.hostid, state: "down" }));
  fails(await rpc(url, "create_device", { devid: 90, hostname: "cold" }), 409, "existing_devid");
  fails(await rpc(url, "create_device", { devid: 92, hostname: "nobody" }), 404, "unknown_host");
  fails(await rpc(url, "create_device", { devid: 93, hostid: 9999 }), 404, "unknown_hostid");
  fails(await rpc(url, "create_device", { devid: 94 }), 400, "bad_args");

  let { devices } = ok(await rpc(url, "get_devices", { devid: 90 }));
  assert.is(devices.length, 1);
  assert.is(devices[0].hostid, h.hostid);
  assert.is(devices[0].status, "down");
  for (const f of ["weight", "mb_total", "mb_used", "mb_free", "observed_state", "utilization"]) assert.ok(f in devices[0], `get_devices has ${f}`);
  const all = ok(await rpc(url, "get_devices")).devices;
  assert.ok(all.length >= 8, "6 storage devices and 2 new ones");
  const live = all.find((d: { devid: number }) => d.devid === 1);
  assert.ok(live.mb_total > 0, "a live device reports usage");

  assert.equal(ok(await rpc(url, "set_weight", { host: "cold", device: 90, weight: 42 })), {});
  assert.equal(ok(await rpc(url, "set_state", { host: "cold", device: 90, state: "dead" })), {});
  devices = ok(await rpc(url, "get_devices", { devid: 90 })).devices;
  assert.is(devices[0].weight, 42);
  assert.is(devices[0].status, "dead");
  fails(await rpc(url, "set_state", { host: "cold", device: 90, state: "alive" }), 400, "state_too_high");
  fails(await rpc(url, "set_state", { host: "host1", device: 91, state: "drain" }), 400, "host_mismatch");
  fails(await rpc(url, "set_weight", { host: "host1", device: 91, weight: 1 }), 400, "host_mismatch");
  fails(await rpc(url, "set_state", { host: "cold", device: 999, state: "down" }), 404, "no_device");
  fails(await rpc(url, "set_weight", { host: "cold", device: 999, weight: 1 }), 404, "no_device");

  fails(await rpc(url, "delete_host", { host: "cold" }), 409, "host_not_empty");
});

t("rpc - register_storage is idempotent for a running storage host", async ({ tc, url }) => {
  const s = tc.cluster.storage[0];
  const r = ok(await rpc(url, "register_storage", { host: s.host, ip: "127.0.0.1", port: s.port, devids: s.devids }));
  assert.equal(r.devids, s.devids);
  const { hosts } = ok(await rpc(url, "get_hosts", { hostid: r.hostid }));
  assert.is(hosts[0].hostname, s.host);
});

// ---- files ----

t("rpc - a whole file cycle: create_open, create_close, get_paths, file_info, file_debug, list_keys, list_fids, rename, updateclass, delete", async ({ url }) => {
  ok(await rpc(url, "create_domain", { domain: "files" }));
  ok(await rpc(url, "create_class", { domain: "files", class: "one", mindevcount: 1 }));
  ok(await rpc(url, "create_class", { domain: "files", class: "two", mindevcount: 2 }));
  const body = randomBytes(10_000);

  const open = ok(await rpc(url, "create_open", { domain: "files", key: "a/1", class: "one", multi_dest: true, size: body.length }));
  assert.ok(open.fid > 0);
  assert.ok(open.dests.length >= 2, "multi_dest gives several destinations");
  assert.is(open.dev_count, open.dests.length);
  assert.is(open.devid, open.dests[0].devid);
  assert.is((await fetch(open.path, { method: "PUT", body })).status, 201);
  const closed = ok(await rpc(url, "create_close", { domain: "files", key: "a/1", fid: open.fid, devid: open.devid, path: open.path, size: body.length }));
  assert.equal(closed, { fid: open.fid, key: "a/1", length: body.length });
  fails(await rpc(url, "create_close", { domain: "files", key: "a/1", fid: open.fid, devid: open.devid, path: open.path }), 404, "no_temp_file");

  const paths = ok(await rpc(url, "get_paths", { domain: "files", key: "a/1" }));
  assert.is(paths.fid, open.fid);
  assert.is(paths.length, body.length);
  assert.ok(paths.paths.length >= 1);
  assert.ok(Buffer.from(await (await fetch(paths.paths[0])).arrayBuffer()).equals(body));
  fails(await rpc(url, "get_paths", { domain: "files", key: "nope" }), 404, "unknown_key");
  fails(await rpc(url, "get_paths", { domain: "nodomain", key: "a/1" }), 404, "unreg_domain");

  const info = ok(await rpc(url, "file_info", { domain: "files", key: "a/1", devices: true }));
  assert.is(info.fid, open.fid);
  assert.is(info.class, "one");
  assert.is(info.length, body.length);
  assert.is(info.devcount, 1);
  assert.equal(info.devids, [open.devid]);
  fails(await rpc(url, "file_info", { domain: "files", key: "nope" }), 404, "unknown_key");

  const dbg = ok(await rpc(url, "file_debug", { fid: open.fid }));
  assert.is(dbg.fid, open.fid);
  assert.is(dbg.key, "a/1");
  assert.equal(dbg.devids, [open.devid]);
  assert.ok(dbg.devpaths[String(open.devid)]?.startsWith("http://"));
  assert.is(dbg.tempfile, null);
  const dbg2 = ok(await rpc(url, "file_debug", { domain: "files", key: "a/1" }));
  assert.is(dbg2.fid, open.fid);
  fails(await rpc(url, "file_debug", { domain: "files", key: "nope" }), 404, "unknown_key");

  // a second and third key for listing and renaming
  for (const k of ["a/2", "b/1"]) {
    const o = ok(await rpc(url, "create_open", { domain: "files", key: k, class: "one" }));
    assert.is((await fetch(o.path, { method: "PUT", body: k })).status, 201);
    ok(await rpc(url, "create_close", { domain: "files", key: k, fid: o.fid, devid: o.devid, path: o.path, size: k.length }));
  }
  let list = ok(await rpc(url, "list_keys", { domain: "files", prefix: "a/" }));
  assert.equal(list, { keys: ["a/1", "a/2"], key_count: 2, next_after: "a/2" });
  list = ok(await rpc(url, "list_keys", { domain: "files", prefix: "a/", after: "a/1", limit: 5 }));
  assert.equal(list.keys, ["a/2"]);
  fails(await rpc(url, "list_keys", { domain: "files", prefix: "zzz" }), 404, "none_match");
  fails(await rpc(url, "list_keys", { domain: "files", prefix: "a/", after: "b/1" }), 400, "after_mismatch");

  const fids = ok(await rpc(url, "list_fids", { from: open.fid - 1, to: 10 }));
  assert.ok(fids.fid_count >= 3 && fids.fids.length === fids.fid_count);
  assert.equal(fids.fids[0], { fid: open.fid, domain: "files", class: "one", key: "a/1", length: body.length, devcount: 1 });

  assert.equal(ok(await rpc(url, "rename", { domain: "files", from_key: "a/1", to_key: "c/1" })), {});
  fails(await rpc(url, "get_paths", { domain: "files", key: "a/1" }), 404, "unknown_key");
  assert.is(ok(await rpc(url, "file_info", { domain: "files", key: "c/1" })).fid, open.fid);
  fails(await rpc(url, "rename", { domain: "files", from_key: "c/1", to_key: "b/1" }), 409, "key_exists");
  fails(await rpc(url, "rename", { domain: "files", from_key: "nope", to_key: "x" }), 404, "unknown_key");

  assert.equal(ok(await rpc(url, "updateclass", { domain: "files", key: "c/1", class: "two" })), {});
  assert.is(ok(await rpc(url, "file_info", { domain: "files", key: "c/1" })).class, "two");
  await until(async () => (await rpc(url, "file_info", { domain: "files", key: "c/1" })).body.devcount === 2, 20_000, "a second copy after updateclass");
  fails(await rpc(url, "updateclass", { domain: "files", key: "c/1", class: "nope" }), 404, "class_not_found");
  fails(await rpc(url, "updateclass", { domain: "files", key: "nope", class: "two" }), 400, "invalid_key");

  assert.equal(ok(await rpc(url, "delete", { domain: "files", key: "c/1" })), {});
  fails(await rpc(url, "delete", { domain: "files", key: "c/1" }), 404, "unknown_key");
});

t("rpc - create_open and create_close errors map to their statuses", async ({ url }) => {
  ok(await rpc(url, "create_domain", { domain: "errs" }));
  fails(await rpc(url, "create_open", { domain: "nodomain", key: "k" }), 404, "unreg_domain");
  fails(await rpc(url, "create_open", { domain: "errs", key: "k", class: "nope" }), 404, "unreg_class");
  const open = ok(await rpc(url, "create_open", { domain: "errs", key: "k" }));
  assert.is((await fetch(open.path, { method: "PUT", body: "12345" })).status, 201);
  fails(await rpc(url, "create_close", { domain: "errs", key: "k", fid: open.fid, devid: open.devid, path: open.path, size: 6 }), 400, "size_mismatch");
  const o2 = ok(await rpc(url, "create_open", { domain: "errs", key: "k2" }));
  fails(await rpc(url, "create_close", { domain: "errs", key: "k2", fid: o2.fid, devid: o2.devid, path: o2.path + "x" }), 400, "bogus_args");
  fails(await rpc(url, "create_close", { domain: "errs", key: "k2", fid: o2.fid, devid: o2.devid, path: o2.path, checksum: "bad" }), 400, "invalid_checksum_format");
  fails(await rpc(url, "create_close", { domain: "errs", key: "k2", fid: o2.fid, devid: o2.devid, path: o2.path }), 400, "size_verify_error");
});

// ---- control ----

t("rpc - replicate_now, settings, stats and failed_jobs", async ({ url }) => {
  const r = ok(await rpc(url, "replicate_now"));
  assert.type(r.count, "number");
  assert.equal(ok(await rpc(url, "set_server_setting", { key: "memcache_ttl", value: "30" })), {});
  assert.equal(ok(await rpc(url, "server_setting", { key: "memcache_ttl" })), { key: "memcache_ttl", value: "30" });
  const { settings } = ok(await rpc(url, "server_settings"));
  assert.is(settings.memcache_ttl, "30");
  fails(await rpc(url, "server_setting", {}), 400, "bad_params");

  const stats = ok(await rpc(url, "stats"));
  for (const f of ["domains", "classes", "hosts", "devices", "files", "replicate_queue", "delete_queue", "open_uploads", "failed_jobs"]) {
    assert.type(stats[f], "number", `stats.${f}`);
  }
  assert.ok(stats.hosts >= 3 && stats.devices >= 6);
  const jobs = ok(await rpc(url, "failed_jobs", { kind: "replicate", limit: 10 }));
  assert.ok(Array.isArray(jobs.jobs));
  fails(await rpc(url, "failed_jobs", { kind: "other" }), 400, "bad_params");
});

// ---- REST admin routes ----

t("rest - domains: list, create (201), delete (204), errors", async ({ url }) => {
  assert.equal(ok(await call(url, "POST", "/v1/domains", { domain: "rest" }), 201), { domain: "rest" });
  fails(await call(url, "POST", "/v1/domains", { domain: "rest" }), 409, "domain_exists");
  assert.ok(ok(await call(url, "GET", "/v1/domains")).domains.some((d: { domain: string }) => d.domain === "rest"));
  ok(await call(url, "POST", "/v1/domains", { domain: "rest-tmp" }), 201);
  assert.is((await call(url, "DELETE", "/v1/domains/rest-tmp")).status, 204);
  fails(await call(url, "DELETE", "/v1/domains/rest-tmp"), 404, "domain_not_found");
});

t("rest - classes: list, create (201), update, delete (204), errors", async ({ url }) => {
  assert.equal(ok(await call(url, "POST", "/v1/domains/rest/classes", { class: "big", mindevcount: 1, hashtype: "MD5" }), 201), { domain: "rest", class: "big", mindevcount: 1 });
  fails(await call(url, "POST", "/v1/domains/rest/classes", { class: "big", mindevcount: 1 }), 409, "class_exists");
  fails(await call(url, "POST", "/v1/domains/rest/classes", { class: "bad", mindevcount: 1, replpolicy: "Nope()" }), 400, "bad_request");
  assert.equal(ok(await call(url, "PUT", "/v1/domains/rest/classes/big", { mindevcount: 3 })), { domain: "rest", class: "big", mindevcount: 3 });
  fails(await call(url, "PUT", "/v1/domains/rest/classes/nope", { mindevcount: 3 }), 404, "class_not_found");
  const list = ok(await call(url, "GET", "/v1/domains/rest/classes"));
  assert.is(list.domain, "rest");
  const big = list.classes.find((c: { class: string }) => c.class === "big");
  assert.is(big.mindevcount, 3);
  assert.is(big.hashtype, "MD5", "update_class leaves an omitted hashtype alone");
  fails(await call(url, "GET", "/v1/domains/nodomain/classes"), 404, "domain_not_found");
  assert.is((await call(url, "DELETE", "/v1/domains/rest/classes/big")).status, 204);
  fails(await call(url, "DELETE", "/v1/domains/rest/classes/big"), 404, "class_not_found");
});

t("rest - hosts: list, create (201), patch, delete (204), errors", async ({ url }) => {
  const h = ok(await call(url, "POST", "/v1/hosts", { host: "resthost", ip: "127.0.0.99", port: 7597 }), 201);
  assert.is(h.hostname, "resthost");
  fails(await call(url, "POST", "/v1/hosts", { host: "resthost", ip: "127.0.0.99", port: 7597 }), 409, "host_exists");
  fails(await call(url, "POST", "/v1/hosts", { host: "x" }), 400, "no_ip");
  assert.equal(ok(await call(url, "PATCH", "/v1/hosts/resthost", { status: "dead", port: 7596 })), { hostid: h.hostid, hostname: "resthost" });
  fails(await call(url, "PATCH", "/v1/hosts/nobody", { status: "down" }), 404, "host_not_found");
  const { hosts } = ok(await call(url, "GET", "/v1/hosts"));
  const mine = hosts.find((x: { hostname: string }) => x.hostname === "resthost");
  assert.is(mine.status, "dead");
  assert.is(mine.http_port, 7596);
  assert.is((await call(url, "DELETE", "/v1/hosts/resthost")).status, 204);
  fails(await call(url, "DELETE", "/v1/hosts/resthost"), 404, "unknown_host");
});

t("rest - devices: list, create (201), patch state and weight by devid, errors", async ({ url }) => {
  ok(await call(url, "POST", "/v1/hosts", { host: "restdev", ip: "127.0.0.98", port: 7595 }), 201);
  const d = ok(await call(url, "POST", "/v1/devices", { devid: 80, hostname: "restdev", state: "down" }), 201);
  assert.is(d.devid, 80);
  fails(await call(url, "POST", "/v1/devices", { devid: 80, hostname: "restdev" }), 409, "existing_devid");
  const after = ok(await call(url, "PATCH", "/v1/devices/80", { state: "drain", weight: 7 }));
  assert.is(after.devid, 80);
  assert.is(after.status, "drain");
  assert.is(after.weight, 7);
  assert.is(ok(await call(url, "GET", "/v1/devices/80")).status, "drain");
  const { devices } = ok(await call(url, "GET", "/v1/devices"));
  assert.ok(devices.some((x: { devid: number }) => x.devid === 80));
  fails(await call(url, "PATCH", "/v1/devices/80", {}), 400, "bad_request");
  fails(await call(url, "PATCH", "/v1/devices/80", { state: "sideways" }), 400, "bad_request");
  fails(await call(url, "PATCH", "/v1/devices/abc", { state: "down" }), 400, "bad_request");
  fails(await call(url, "PATCH", "/v1/devices/999", { state: "down" }), 404, "no_device");
  fails(await call(url, "GET", "/v1/devices/999"), 404, "no_device");
  ok(await call(url, "PATCH", "/v1/devices/80", { state: "dead" }));
  fails(await call(url, "PATCH", "/v1/devices/80", { state: "alive" }), 400, "state_too_high");
});

t("rest - stats", async ({ url }) => {
  const s = ok(await call(url, "GET", "/v1/stats"));
  assert.ok(s.domains >= 1 && s.devices >= 6);
});

t("rest - rename a file and change its class", async ({ url }) => {
  ok(await call(url, "POST", "/v1/domains/rest/classes", { class: "pair", mindevcount: 2 }), 201);
  ok(await call(url, "POST", "/v1/domains/rest/classes", { class: "solo", mindevcount: 1 }), 201);
  let r = await gw(`${url}/v1/domains/rest/files/${enc("dir/old name")}?class=solo`, { method: "PUT", body: "abc" });
  assert.is(r.status, 201);
  r = await gw(`${url}/v1/domains/rest/files/other?class=solo`, { method: "PUT", body: "x" });
  assert.is(r.status, 201);

  const moved = ok(await call(url, "POST", `/v1/domains/rest/files/${enc("dir/old name")}/rename`, { to: "dir/new name" }));
  assert.equal(moved, { domain: "rest", key: "dir/new name", from: "dir/old name" });
  fails(await call(url, "GET", `/v1/domains/rest/files/${enc("dir/old name")}?meta=1`), 404, "unknown_key");
  r = await gw(`${url}/v1/domains/rest/files/${enc("dir/new name")}`);
  assert.is(await r.text(), "abc");
  fails(await call(url, "POST", `/v1/domains/rest/files/${enc("dir/new name")}/rename`, { to: "other" }), 409, "key_exists");
  fails(await call(url, "POST", `/v1/domains/rest/files/nope/rename`, { to: "x" }), 404, "unknown_key");
  fails(await call(url, "POST", `/v1/domains/rest/files/other/rename`, {}), 400, "bad_request");

  assert.equal(ok(await call(url, "PATCH", `/v1/domains/rest/files/${enc("dir/new name")}`, { class: "pair" })), { domain: "rest", key: "dir/new name", class: "pair" });
  const meta = await until(async () => {
    const m = (await call(url, "GET", `/v1/domains/rest/files/${enc("dir/new name")}?meta=1`)).body;
    return m.devcount === 2 && m;
  }, 20_000, "2 copies after the class change");
  assert.is(meta.class, "pair");
  fails(await call(url, "PATCH", `/v1/domains/rest/files/${enc("dir/new name")}`, { class: "nope" }), 404, "class_not_found");
  fails(await call(url, "PATCH", `/v1/domains/rest/files/${enc("dir/new name")}`, {}), 400, "bad_request");
});

t.run();
