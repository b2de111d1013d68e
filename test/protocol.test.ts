import { test } from "uvu";
import * as assert from "uvu/assert";
import { CreateOpen, GetPaths, ListKeys, CreateClass, zbool } from "../protocol/schemas.ts";
import { MogileError, httpStatus } from "../protocol/errors.ts";
import { zodToMogile } from "../protocol/validate.ts";
import { PathCache } from "../actors/query/cache.ts";
import { observe } from "../actors/monitor/index.ts";
import "../protocol/nats-patch.ts";
import { RequestOne, deferred } from "@nats-io/nats-core/internal";

test("schemas - MogileFS booleans and numbers arrive as strings or JSON", () => {
  assert.is(zbool.parse("1"), true);
  assert.is(zbool.parse("0"), false);
  assert.is(zbool.parse(""), false);
  assert.is(zbool.parse(true), true);
  const o = CreateOpen.parse({ domain: "d", multi_dest: "1", size: "42" });
  assert.equal(o, { domain: "d", key: "", multi_dest: true, size: 42 });
  assert.equal(GetPaths.parse({ domain: "d", key: "k" }), { domain: "d", key: "k", noverify: false, pathcount: 2 });
  assert.is(ListKeys.parse({ domain: "d" }).limit, 1000);
});

test("schemas - missing arguments become MogileFS codes", () => {
  const code = (schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, raw: unknown) => zodToMogile(schema.safeParse(raw).error as never, "", raw).code;
  assert.is(code(GetPaths, { key: "k" }), "no_domain");
  assert.is(code(GetPaths, { domain: "d" }), "no_key");
  assert.is(code(GetPaths, { domain: "", key: "k" }), "no_domain");
  assert.is(code(GetPaths, { domain: "0", key: "k" }), "no_domain");
  assert.is(code(CreateClass, { domain: "d", class: "c", mindevcount: 0 }), "invalid_mindevcount");
  assert.is(code(CreateClass, { domain: "d", class: "c", mindevcount: 1, hashtype: "CRC" }), "invalid_hashtype");
  assert.is(code(CreateOpen, { domain: "d", size: -1 }), "bad_params");
});

test("errors - one mapping from code to HTTP status", () => {
  assert.is(httpStatus("unknown_key"), 404);
  assert.is(httpStatus("domain_exists"), 409);
  assert.is(httpStatus("no_devices"), 503);
  assert.is(httpStatus("bad_request"), 400);
  assert.is(httpStatus("range_not_satisfiable"), 416);
  assert.equal(new MogileError("unreg_domain").toJSON(), { error: "unreg_domain", message: "Domain name invalid/not found" });
});

test("cache - a read that raced an eviction is not cached", () => {
  const c = new PathCache(10, 60_000);
  const token = c.begin();
  c.evict("d\u001fk"); // the key changed while we were reading the database
  c.set("d\u001fk", { fid: 1, length: 1, class: "default", devids: [1] }, token);
  assert.is(c.get("d\u001fk"), undefined);
  c.set("d\u001fk", { fid: 2, length: 1, class: "default", devids: [1] }, c.begin());
  assert.is(c.get("d\u001fk")?.fid, 2);
});

test("cache - bounded in size", () => {
  const c = new PathCache(3, 60_000);
  for (let i = 0; i < 10; i++) c.set(`k${i}`, { fid: i, length: 0, class: "default", devids: [] }, c.begin());
  assert.is(c.size, 3);
  assert.is(c.get("k9")?.fid, 9);
  assert.is(c.get("k0"), undefined);
});

test("monitor - devices without recent heartbeats are unreachable", () => {
  assert.is(observe(1000, true, 2000, 5000), "writeable");
  assert.is(observe(1000, false, 2000, 5000), "readable");
  assert.is(observe(1000, true, 7001, 5000), "unreachable");
  assert.is(observe(0, true, 2000, 5000), "unreachable");
  assert.is(observe(1000, true, 2000, 5000, false), "readable", "a failed test write leaves it readable only");
});

test("nats patch - an answered request is released without building a 'cancelled' error; an unanswered one still is rejected", async () => {
  const fake = () => {
    const req = Object.create(RequestOne.prototype) as InstanceType<typeof RequestOne> & Record<string, unknown>;
    const released: unknown[] = [];
    let timerCancelled = 0;
    Object.assign(req, { mux: { cancel: (r: unknown) => released.push(r) }, timer: { cancel: () => { timerCancelled++; } }, deferred: deferred() });
    return { req, released, timers: () => timerCancelled };
  };
  // answered: resolves with the message, is released from the mux, and its reject is never called
  const a = fake();
  let rejected = 0;
  const d = a.req.deferred as ReturnType<typeof deferred> & { reject: (e: unknown) => void };
  const reject = d.reject;
  d.reject = (e: unknown) => { rejected++; reject(e); };
  (a.req as unknown as { resolver(err: Error | null, msg: unknown): void }).resolver(null, "msg");
  assert.is(await a.req.deferred, "msg");
  assert.is(rejected, 0, "no 'cancelled' error for an answered request");
  assert.equal(a.released, [a.req]);
  assert.ok(a.timers() >= 1);
  // unanswered, cancelled (the connection closing): rejected as before
  const b = fake();
  (b.req as unknown as { cancel(err?: Error): void }).cancel();
  await (b.req.deferred as Promise<unknown>).then(() => assert.unreachable("resolved"), (err: Error) => assert.match(err.message, /cancelled/));
  assert.equal(b.released, [b.req]);
});

test.run();
