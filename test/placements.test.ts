// Unit: the placement record (bounds, words), the class-change simulation and explain's verdicts,
// over an in-memory device view (no servers).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DeviceView } from "../actors/runtime/devices.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { classId, type ClassDoc, type FileDoc, type Store } from "../actors/runtime/mongo.ts";
import { parsePolicy, placement } from "../actors/runtime/domain/policy.ts";
import { ruleOf } from "../actors/runtime/domain/classes.ts";
import {
  added, drawText, dropped, lackOf, MAX_FORGOTTEN, placementHistory, placementSet, pruneForgotten, replicatedRecord, type Placements,
} from "../actors/runtime/domain/placements.ts";
import { ClassChangeTally, simulate } from "../actors/runtime/domain/class_change.ts";
import { explainFile } from "../actors/query/commands/explain.ts";
import type { DeviceStateName } from "../protocol/schemas.ts";

const GB = 1024 ** 3;
/** 3 hosts × 2 devices (dev 2h-1 and 2h on host h), as the test clusters have */
function view(o: { status?: Record<number, DeviceStateName>; zones?: Record<number, string>; free?: Record<number, number> } = {}): DeviceView {
  const v = new DeviceView({} as Store, createLogger({ role: "test" }, "error"));
  for (let h = 1; h <= 3; h++) v.hosts.set(h, { _id: h, hostname: `h${h}`, ip: "127.0.0.1", port: 7500 + h, status: "alive", ...(o.zones?.[h] ? { zone: o.zones[h] } : {}) });
  for (let d = 1; d <= 6; d++) {
    const hostid = Math.ceil(d / 2);
    const free = o.free?.[d] ?? 10 * GB;
    v.devices.set(d, { _id: d, hostid, status: o.status?.[d] ?? "alive", weight: 100 });
    v.observed.set(d, { devid: d, hostid, observed: "writeable", total: 100 * GB, used: 100 * GB - free, free, ts: Date.now(), lastHeartbeat: Date.now() });
  }
  return v;
}
const cls = (mindevcount: number, replpolicy = "MultipleHosts()"): ClassDoc =>
  ({ _id: classId("d", "c"), domain: "d", class: "c", mindevcount, replpolicy, hashtype: "NONE" });
const file = (devids: number[], placements?: Placements): FileDoc =>
  ({ _id: "d\u001fk", fid: 7, domain: "d", key: "k", class: "c", length: 100, devids, createdAt: new Date(0), ...(placements ? { placements } : {}) });

test("placements - what a set of copies lacks, in words", () => {
  const v = view({ zones: { 1: "a", 2: "a", 3: "b" } });
  const { on, live } = placement(v, [1, 2], 0);
  assert.is(lackOf(parsePolicy("MultipleHosts()"), on, 2, 2), "copies on 1 of 2 hosts wanted (2 copies share hosts)");
  assert.is(lackOf(parsePolicy("MultipleDevices()"), on, 2, 2), "");
  const spread = placement(v, [1, 3], 0).on;
  assert.is(lackOf(parsePolicy("MultipleNetworks()"), spread, 2, 2), "copies in 1 of 2 zones wanted");
  assert.is(lackOf(parsePolicy("MultipleHosts()"), spread, 2, 2), "");
  assert.is(lackOf(parsePolicy("MultipleHosts()"), [], 2, live.length), "no copy on a live device");
});

test("placements - the record is set per device in the update's own $set, and forgotten copies are pruned to a bound", () => {
  assert.equal(Object.keys(placementSet([[3, added("drain", "x", 1)], [1, dropped("drain", "y", 3)]])), ["placements.d3", "placements.d1"]);
  const p: Placements = {};
  for (let d = 1; d <= 20; d++) p[`d${d}`] = { ...(d <= 2 ? added("create_open", "kept") : dropped("rebalance", "moved")), at: 1000 + d };
  // copies on 1 and 2; dev 20 is being forgotten by this very update
  const unset = pruneForgotten(p, [1, 2], [20]);
  const left = Object.keys(p).filter((k) => !(`placements.${k}` in unset));
  assert.is(left.length, 2 + MAX_FORGOTTEN, "the copies plus the newest forgotten ones");
  assert.ok(left.includes("d1") && left.includes("d2") && left.includes("d20") && left.includes("d13"));
  assert.not.ok(left.includes("d12"), "the oldest forgotten entries go");
  assert.equal(pruneForgotten(undefined, [1], [2]), {});
  assert.equal(placementHistory(p).map((h) => h.devid).slice(0, 3), [1, 2, 3], "oldest first");
});

test("placements - create_open's draw and the replicator's reasons read as sentences", () => {
  const v = view({ free: { 1: 30 * GB, 3: 10 * GB } });
  const text = drawText(v, [1, 3, 5], 1);
  assert.match(text, /^chosen at create_open by a draw weighted by free space × weight among 3 writable devices: dev1 60% \(free 32 GB, weight 100\); others dev3 20% \(free 11 GB/);
  const r = replicatedRecord({ reason: "dead-device", lost: 4, policy: "MultipleHosts(2)", lack: "copies on 1 of 2 hosts wanted", desperate: false });
  assert.is(r.cause, "restore");
  assert.is(r.dev, 4);
  assert.is(r.why, "restored after dev4 was marked dead: MultipleHosts(2) had copies on 1 of 2 hosts wanted");
  assert.is(replicatedRecord({ reason: "new", policy: "MultipleHosts(2)", lack: "", desperate: true }).cause, "replicate");
});

test("class change - the replicator's loop on paper: copies gained, dropped, or moved to spread", () => {
  const v = view();
  const rule = (min: number, p = "MultipleHosts()") => ruleOf(cls(min, p));
  assert.equal(simulate(v, rule(2), [1, 3]), { added: 0, dropped: 0, met: true });
  assert.equal(simulate(v, rule(3), [1, 3]), { added: 1, dropped: 0, met: true });
  assert.equal(simulate(v, rule(1), [1, 3]), { added: 0, dropped: 1, met: true });
  // two copies on one host: MultipleDevices is content, MultipleHosts adds one elsewhere then drops one
  assert.equal(simulate(v, rule(2, "MultipleDevices()"), [1, 2]), { added: 0, dropped: 0, met: true });
  assert.equal(simulate(v, rule(2), [1, 2]), { added: 1, dropped: 1, met: true });
  // 4 copies on 3 hosts cannot be done: desperate copies are made beside others, so it is met on devices
  assert.equal(simulate(v, rule(4), [1, 3]).added, 2);
  // nothing writable: it would wait
  const full = view({ free: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0 } });
  assert.equal(simulate(full, rule(3), [1, 3]), { added: 0, dropped: 0, met: false });
});

test("class change - the tally judges each placement against the current rule, not the pending work", () => {
  const v = view();
  const t = new ClassChangeTally(v, ruleOf(cls(2)), ruleOf(cls(3)));
  t.add([1, 3], 10, 1000); // meets 2: gains one copy each
  t.add([1], 2, 50); // below 2 already: gains one more than the current rule would give
  t.add([1, 3, 5], 1, 7); // at 3 already: the current rule would drop one, the new one keeps it (a gain against it)
  const c = t.counts;
  assert.is(c.files, 13);
  assert.is(c.bytes, 1057);
  assert.is(c.gain_files, 13);
  assert.is(c.gain_copies, 13);
  assert.is(c.gain_bytes, 1057);
  assert.is(c.below_now_files, 2, "only the files below the current rule (a surplus copy is not)");
  assert.is(c.lose_files + c.unchanged_files + c.move_files, 0);

  const down = new ClassChangeTally(v, ruleOf(cls(2)), ruleOf(cls(1)));
  down.add([1, 3], 4, 400);
  assert.equal([down.counts.lose_files, down.counts.lose_copies, down.counts.lose_bytes], [4, 4, 400]);
  const same = new ClassChangeTally(v, ruleOf(cls(2)), ruleOf(cls(2, "MultipleDevices()")));
  same.add([1, 3], 4, 400);
  same.add([1, 2], 1, 9);
  assert.equal([same.counts.unchanged_files, same.counts.move_files, same.counts.below_now_files], [4, 1, 1]);
});

test("explain - each copy's recorded decision, 'no record' for files stored before, the verdict and what would change it", () => {
  const v = view({ status: { 3: "drain" } });
  const placements: Placements = {
    d1: { ...added("create_open", "chosen at create_open …"), at: 1 },
    d4: { ...dropped("dead", "dev4 was marked dead"), at: 2 },
  };
  const r = explainFile(file([1, 3], placements), cls(2), v);
  assert.is(r.policy_state, "meets");
  assert.is(r.wanted, 2);
  assert.is(r.copies[0].placed?.cause, "create_open");
  assert.is(r.copies[1].placed, null, "no record: nothing invented");
  assert.equal(r.history.map((h) => [h.devid, h.op]), [[1, "add"], [4, "drop"]]);
  assert.ok(r.would_change.some((w) => w.startsWith("dev3 is being drained")), r.would_change.join("\n"));
  assert.ok(r.would_change.some((w) => w.startsWith("losing host h1 (id 1, dev1)")), r.would_change.join("\n"));
  assert.ok(r.would_change.includes("mindevcount 3 would add 1 copy"), r.would_change.join("\n"));
  assert.ok(r.would_change.includes("mindevcount 1 would drop 1 copy"), r.would_change.join("\n"));

  const below = explainFile(file([1, 2]), cls(2), view());
  assert.is(below.policy_state, "below");
  assert.match(below.policy_detail, /^2 copies on 1 host, below MultipleHosts\(2\): copies on 1 of 2 hosts wanted/);
  assert.ok(below.would_change[0].startsWith("the replicator copies it to one of dev3, dev4, dev5, dev6"));
  assert.is(explainFile(file([1, 3, 5]), cls(2), view()).policy_state, "surplus");
  assert.is(explainFile(file([1], {}), cls(2), view({ status: { 1: "dead" } })).policy_state, "no_copy");
});

test.run();
