import { test } from "uvu";
import * as assert from "uvu/assert";
import { DeviceView, MIN_FREE_BYTES } from "../actors/runtime/devices.ts";
import { multipleHosts } from "../actors/replicator/policy.ts";
import { createLogger } from "../actors/runtime/log.ts";
import type { Store } from "../actors/runtime/mongo.ts";
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

test("policy - MultipleHosts wants copies on distinct hosts", () => {
  const alive = new Set([1, 2, 3]);
  assert.is(multipleHosts([], 2, alive).kind, "no_source");
  assert.is(multipleHosts([{ devid: 1, hostid: 1 }], 1, alive).kind, "satisfied");
  const one = multipleHosts([{ devid: 1, hostid: 1 }], 2, alive);
  assert.is(one.kind, "copy");
  if (one.kind === "copy") { assert.ok(one.avoidHosts.has(1)); assert.not.ok(one.desperate); }
  assert.is(multipleHosts([{ devid: 1, hostid: 1 }, { devid: 3, hostid: 2 }], 2, alive).kind, "satisfied");
  assert.is(multipleHosts([{ devid: 1, hostid: 1 }, { devid: 2, hostid: 1 }], 2, alive).kind, "copy", "two devices on one host are not enough");
});

test("policy - with one writable host it settles for another device there, then waits to spread", () => {
  const r = multipleHosts([{ devid: 1, hostid: 1 }], 2, new Set([1]), new Set([1, 2, 3]));
  assert.is(r.kind, "copy");
  if (r.kind === "copy") assert.ok(r.desperate);
  const two = [{ devid: 1, hostid: 1 }, { devid: 2, hostid: 1 }];
  assert.is(multipleHosts(two, 2, new Set([1]), new Set([1, 2, 3])).kind, "wait", "other hosts are only down for now");
  assert.is(multipleHosts(two, 2, new Set([1]), new Set([1])).kind, "satisfied", "a one-host cluster cannot do better");
  const back = multipleHosts(two, 2, new Set([1, 2]), new Set([1, 2, 3]));
  assert.is(back.kind, "copy", "a host came back: spread");
});

test.run();
