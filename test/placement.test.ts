import { test } from "uvu";
import * as assert from "uvu/assert";
import { DeviceView, MIN_FREE_BYTES } from "../actors/runtime/devices.ts";
import { decide, parsePolicy, policyMin, type Placed, type ReplPolicy } from "../actors/runtime/domain/policy.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { classId, type ClassDoc, type Store } from "../actors/runtime/mongo.ts";
import { ClassCache, DEFAULT_CLASS, defaultClassRow, ruleOf } from "../actors/runtime/domain/classes.ts";
import { policyMet } from "../actors/fsck/check.ts";
import { CreateClass } from "../protocol/schemas.ts";
import type { DeviceStateName } from "../protocol/schemas.ts";

const GB = 1024 ** 3;
function view(devs: { devid: number; hostid: number; free: number; status?: DeviceStateName; observed?: "writeable" | "unreachable" }[]): DeviceView {
  const v = new DeviceView({} as Store, createLogger({ role: "test" }, "error"));
  for (const d of devs) {
    v.hosts.set(d.hostid, { _id: d.hostid, hostname: `h${d.hostid}`, ip: "127.0.0.1", port: 7500 + d.hostid, status: "alive" });
    v.devices.set(d.devid, { _id: d.devid, hostid: d.hostid, status: d.status ?? "alive", weight: 100 });
    v.observed.set(d.devid, { devid: d.devid, hostid: d.hostid, observed: d.observed ?? "writeable", total: 100 * GB, used: 100 * GB - d.free, free: d.free, ts: Date.now(), lastHeartbeat: Date.now() });
  }
  return v;
}

test("device choice - destinations are on distinct hosts", () => {
  const v = view([
    { devid: 1, hostid: 1, free: 10 * GB }, { devid: 2, hostid: 1, free: 10 * GB },
    { devid: 3, hostid: 2, free: 10 * GB }, { devid: 4, hostid: 2, free: 10 * GB },
    { devid: 5, hostid: 3, free: 10 * GB }, { devid: 6, hostid: 3, free: 10 * GB },
  ]);
  for (let i = 0; i < 200; i++) {
    const picked = v.choose(3);
    assert.is(picked.length, 3);
    assert.is(new Set(picked.map((d) => v.devices.get(d)!.hostid)).size, 3);
  }
  assert.is(v.choose(5).length, 3, "never two on one host");
});

test("device choice - weighted by free space", () => {
  const v = view([{ devid: 1, hostid: 1, free: 90 * GB }, { devid: 2, hostid: 2, free: 10 * GB }]);
  let first = 0;
  for (let i = 0; i < 2000; i++) if (v.choose(1)[0] === 1) first++;
  assert.ok(first > 1600 && first < 1990, `device with 9x free space picked ${first}/2000`);
});

test("device choice - skips full, unreachable, dead and readonly devices", () => {
  const v = view([
    { devid: 1, hostid: 1, free: MIN_FREE_BYTES - 1 },
    { devid: 2, hostid: 2, free: 10 * GB, observed: "unreachable" },
    { devid: 3, hostid: 3, free: 10 * GB, status: "dead" },
    { devid: 4, hostid: 4, free: 10 * GB, status: "readonly" },
    { devid: 5, hostid: 5, free: 10 * GB },
  ]);
  for (let i = 0; i < 50; i++) assert.equal(v.choose(3), [5]);
  assert.equal(v.choose(1, { avoidHosts: new Set([5]) }), []);
});

test("device choice - reads skip unreachable devices and put drain devices last", () => {
  const v = view([
    { devid: 1, hostid: 1, free: GB, status: "drain" },
    { devid: 2, hostid: 2, free: GB, observed: "unreachable" },
    { devid: 3, hostid: 3, free: GB },
  ]);
  assert.equal(v.orderForRead([1, 2, 3]), [3, 1]);
});

// ---- replication policies (pure functions) ----
const P = (devid: number, hostid: number, zone = "", readable = true): Placed => ({ devid, hostid, zone, readable });
/** 3 hosts × 2 devices; hosts 1–2 in zone a, host 3 in zone b unless given */
const grid = (zones: string[] = ["a", "a", "b"]) => zones.flatMap((z, h) => [P(h * 2 + 1, h + 1, z), P(h * 2 + 2, h + 1, z)]);
const hosts = parsePolicy("MultipleHosts()");
const run = (policy: ReplPolicy, on: Placed[], min: number, writable: Placed[], live: Placed[] = writable) =>
  decide({ policy, on, min: policyMin(policy, min), writable, live });

test("policy - a surplus copy on a draining device goes first (a drain's move is about to forget it)", () => {
  const p = parsePolicy("MultipleHosts()");
  // three copies on three hosts, one of them on a draining device; two wanted
  const on: Placed[] = [{ devid: 1, hostid: 1 }, { devid: 3, hostid: 2, leaving: true }, { devid: 5, hostid: 3 }];
  assert.equal(decide({ policy: p, on, min: 2, writable: [], live: on }), { kind: "too_many", devid: 3 });
  // a host with two copies still loses one first when nothing drains
  const two: Placed[] = [{ devid: 1, hostid: 1 }, { devid: 2, hostid: 1 }, { devid: 5, hostid: 3 }];
  assert.equal(decide({ policy: p, on: two, min: 2, writable: [], live: two }), { kind: "too_many", devid: 2 });
});

test("policy - parses names, aliases, the MogileFS prefix and N", () => {
  assert.equal(parsePolicy("MultipleHosts()"), { name: "MultipleHosts", n: null });
  assert.equal(parsePolicy("MultipleHosts(0)"), { name: "MultipleHosts", n: null }, "zero means mindevcount");
  assert.equal(parsePolicy("MultipleDevices(3)"), { name: "MultipleDevices", n: 3 });
  assert.equal(parsePolicy("HostsPerNetwork( 2 )"), { name: "MultipleNetworks", n: 2 });
  assert.equal(parsePolicy("MogileFS::ReplicationPolicy::MultipleNetworks()"), { name: "MultipleNetworks", n: null });
  assert.equal(parsePolicy("Union(A,B)"), { name: "MultipleHosts", n: null }, "unknown falls back to the default");
  assert.is(policyMin(parsePolicy("MultipleHosts(3)"), 2), 3, "an explicit N overrides mindevcount");
  assert.is(policyMin(parsePolicy("MultipleHosts()"), 2), 2);
});

test("policy - MultipleHosts wants copies on distinct hosts", () => {
  const all = grid();
  assert.is(run(hosts, [], 2, all).kind, "no_source");
  assert.is(run(hosts, [P(1, 1)], 1, all).kind, "satisfied");
  const one = run(hosts, [P(1, 1)], 2, all);
  assert.equal(one, { kind: "copy", devids: [3, 4, 5, 6], desperate: false }, "only devices on other hosts");
  assert.is(run(hosts, [P(1, 1), P(3, 2)], 2, all).kind, "satisfied");
  assert.is(run(hosts, [P(1, 1), P(2, 1)], 2, all).kind, "copy", "two devices on one host are not enough");
});

test("policy - with one writable host it settles for another device there, then waits to spread", () => {
  const live = grid();
  const h1 = live.filter((p) => p.hostid === 1);
  assert.equal(run(hosts, [P(1, 1)], 2, h1, live), { kind: "copy", devids: [2], desperate: true });
  const two = [P(1, 1), P(2, 1)];
  assert.is(run(hosts, two, 2, [], live).kind, "wait", "other hosts are only down for now");
  assert.is(run(hosts, two, 2, [], h1).kind, "satisfied", "a one-host cluster cannot do better");
  assert.is(run(hosts, two, 2, live.filter((p) => p.hostid === 2), live).kind, "copy", "a host came back: spread");
  assert.is(run(hosts, [P(1, 1), P(3, 2)], 3, [], [P(1, 1), P(3, 2)]).kind, "satisfied", "every device there is holds a copy");
});

test("policy - MultipleHosts(N) overrides mindevcount", () => {
  const p = parsePolicy("MultipleHosts(3)");
  assert.is(run(p, [P(1, 1), P(3, 2)], 1, grid()).kind, "copy");
  assert.is(run(p, [P(1, 1), P(3, 2), P(5, 3)], 1, grid()).kind, "satisfied");
});

test("policy - MultipleDevices counts devices and ignores hosts", () => {
  const p = parsePolicy("MultipleDevices()");
  const all = grid();
  assert.equal(run(p, [P(1, 1)], 2, all), { kind: "copy", devids: [2, 3, 4, 5, 6], desperate: false }, "the same host's other device is ideal too");
  assert.is(run(p, [P(1, 1), P(2, 1)], 2, all).kind, "satisfied");
  assert.is(run(parsePolicy("MultipleDevices(3)"), [P(1, 1), P(2, 1)], 2, all).kind, "copy");
});

test("policy - MultipleNetworks spreads across zones first, then hosts", () => {
  const p = parsePolicy("MultipleNetworks()");
  const all = grid(); // zone a: hosts 1, 2; zone b: host 3
  assert.equal(run(p, [P(1, 1, "a")], 2, all), { kind: "copy", devids: [5, 6], desperate: false }, "only zone b is ideal");
  assert.is(run(p, [P(1, 1, "a"), P(3, 2, "a")], 2, all).kind, "copy", "two hosts in one zone do not satisfy it");
  assert.is(run(p, [P(1, 1, "a"), P(5, 3, "b")], 2, all).kind, "satisfied");
  // zone b unreachable: another host in zone a ranks above the same host
  const zoneA = all.filter((x) => x.zone === "a");
  assert.equal(run(p, [P(1, 1, "a")], 2, zoneA, all), { kind: "copy", devids: [3, 4], desperate: true });
  assert.is(run(p, [P(1, 1, "a"), P(3, 2, "a")], 2, zoneA, all).kind, "wait", "never satisfied while a zone is only down");
  // three copies over two zones: zones first (both), then a third host
  const three = run(p, [P(1, 1, "a"), P(5, 3, "b")], 3, all);
  assert.equal(three, { kind: "copy", devids: [3, 4], desperate: false });
  // hosts without a zone are one zone: it behaves like MultipleHosts
  assert.is(run(p, [P(1, 1), P(3, 2)], 2, grid(["", "", ""])).kind, "satisfied");
  assert.is(run(parsePolicy("HostsPerNetwork(2)"), [P(1, 1, "a"), P(3, 2, "a")], 1, all).kind, "copy");
});

test("policy - one copy too many names a surplus copy, never one the rest needs", () => {
  const all = grid();
  // three hosts' copies, mindevcount lowered to 2
  assert.equal(run(hosts, [P(1, 1), P(3, 2), P(5, 3)], 2, all), { kind: "too_many", devid: 5 });
  // a desperate copy after a host came back: the doubled host gives one up
  assert.equal(run(hosts, [P(1, 1), P(2, 1), P(3, 2)], 2, all), { kind: "too_many", devid: 2 });
  // the rest must be readable: with device 3 unreachable, 1 and 5 stay
  assert.equal(run(hosts, [P(1, 1), P(3, 2, "", false), P(5, 3)], 2, all), { kind: "too_many", devid: 3 });
  assert.is(run(hosts, [P(1, 1), P(3, 2, "", false), P(4, 2, "", false)], 2, all).kind, "satisfied", "no surplus dropped while only one copy is readable");
  // MultipleNetworks keeps the zone spread
  const p = parsePolicy("MultipleNetworks()");
  assert.equal(run(p, [P(1, 1, "a"), P(3, 2, "a"), P(5, 3, "b")], 2, all), { kind: "too_many", devid: 3 });
});

test("policy - fsck's check is the replicator's answer, zones included", () => {
  const v = view([
    { devid: 1, hostid: 1, free: 10 * GB }, { devid: 2, hostid: 2, free: 10 * GB }, { devid: 3, hostid: 3, free: 10 * GB },
  ]);
  v.hosts.get(1)!.zone = "a"; v.hosts.get(2)!.zone = "a"; v.hosts.get(3)!.zone = "b";
  const cls = (replpolicy: string, mindevcount = 2): ClassDoc => ({ ...defaultClassRow("d"), replpolicy, mindevcount });
  assert.ok(policyMet(cls("MultipleHosts()"), [1, 2], 1, v), "two hosts");
  assert.not.ok(policyMet(cls("MultipleNetworks()"), [1, 2], 1, v), "two hosts of one zone are not two zones");
  assert.ok(policyMet(cls("MultipleNetworks()"), [1, 3], 1, v));
  assert.not.ok(policyMet(cls("MultipleHosts()"), [1], 1, v));
  assert.ok(policyMet(cls("MultipleHosts(1)"), [1], 1, v), "an explicit N overrides mindevcount");
  assert.not.ok(policyMet(cls("MultipleHosts()"), [], 1, v));
});

test("policy - the schema and the parser share one grammar", () => {
  for (const p of ["MultipleHosts()", "MultipleDevices(3)", "HostsPerNetwork( 2 )", "MogileFS::ReplicationPolicy::MultipleNetworks()"]) {
    assert.ok(CreateClass.safeParse({ domain: "d", class: "c", mindevcount: 2, replpolicy: p }).success, p);
  }
  assert.not.ok(CreateClass.safeParse({ domain: "d", class: "c", mindevcount: 2, replpolicy: "Anywhere()" }).success);
});

test("classes - one cache, one answer for a missing class", async () => {
  const rows = new Map<string, ClassDoc>();
  let reads = 0;
  const store = { classes: { findOne: async (q: { _id: string }) => { reads++; return rows.get(q._id) ?? null; } } } as unknown as Store;
  const c = new ClassCache(store, 60_000);
  assert.equal(await c.find("d", undefined), defaultClassRow("d"), "no class is the implicit default class");
  assert.equal(await c.find("d", DEFAULT_CLASS), defaultClassRow("d"));
  assert.equal(ruleOf(defaultClassRow("d")), { min: 2, policy: { name: "MultipleHosts", n: null }, hashtype: "NONE" });
  assert.is(await c.find("d", "gone"), null, "an unknown class is unknown");
  const r = reads;
  await c.find("d", DEFAULT_CLASS);
  assert.is(reads, r, "rows are cached");
  // an overridden default class is what a file of a deleted class lives by
  rows.set(classId("d", DEFAULT_CLASS), { ...defaultClassRow("d"), mindevcount: 3 });
  assert.is((await c.forFile({ domain: "d", class: "gone" })).mindevcount, 2, "cached until forgotten");
  c.forget();
  assert.is((await c.forFile({ domain: "d", class: "gone" })).mindevcount, 3);
  rows.set(classId("d", "big"), { ...defaultClassRow("d"), _id: classId("d", "big"), class: "big", mindevcount: 4 });
  assert.is((await c.forFile({ domain: "d", class: "big" })).mindevcount, 4, "a miss is not cached");
});


test("policy - MultipleHosts prefers a host in a zone (rack) with no copy yet, when there is one", () => {
  const p: ReplPolicy = parsePolicy("MultipleHosts()");
  const on: Placed[] = [{ devid: 1, hostid: 1, zone: "a" }];
  const writable: Placed[] = [{ devid: 2, hostid: 2, zone: "a" }, { devid: 3, hostid: 3, zone: "b" }, { devid: 4, hostid: 1, zone: "a" }];
  assert.equal(decide({ policy: p, on, min: 2, writable, live: writable }), { kind: "copy", devids: [3], desperate: false });
  // no other zone can take it: any new host will do, the policy is met all the same
  const sameZone = writable.filter((c) => c.zone === "a");
  assert.equal(decide({ policy: p, on, min: 2, writable: sameZone, live: sameZone }), { kind: "copy", devids: [2], desperate: false });
  assert.equal(decide({ policy: p, on: [...on, { devid: 2, hostid: 2, zone: "a" }], min: 2, writable, live: writable }), { kind: "satisfied" });
});

test("policy - copies on a device unreachable for long do not count while another copy remains", () => {
  const v = view([
    { devid: 1, hostid: 1, free: 10 * GB }, { devid: 2, hostid: 2, free: 10 * GB }, { devid: 3, hostid: 3, free: 10 * GB },
  ]);
  const long = Date.now() - 3_600_000;
  v.observed.set(2, { ...v.observed.get(2)!, observed: "unreachable", lastHeartbeat: long });
  assert.ok(v.lost(2));
  const cls = { mindevcount: 2 } as ClassDoc;
  assert.not.ok(policyMet(cls, [1, 2], 100, v), "the lost copy is not counted");
  // every copy on lost devices: they still count (nothing better to do than wait for them)
  v.observed.set(1, { ...v.observed.get(1)!, observed: "unreachable", lastHeartbeat: long });
  assert.ok(policyMet(cls, [1, 2], 100, v));
  // unreachable only briefly: not lost
  v.observed.set(1, { ...v.observed.get(1)!, observed: "unreachable", lastHeartbeat: Date.now() - 1_000 });
  assert.not.ok(v.lost(1));
});

test.run();
