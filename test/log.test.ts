// The injected logger: text lines for people, MOGILE_LOG_FORMAT=json for log shippers, and errors
// with their stack in both. No servers: lines are collected through the logger's `write` option.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createLogger, type Level, type LoggerOptions } from "../actors/runtime/log.ts";
import { MogileError } from "../protocol/errors.ts";
import { slowCommands } from "../actors/query/metrics.ts";

const t = suite("log");

function collect(base: Record<string, unknown>, o: LoggerOptions = {}) {
  const lines: { level: Level; line: string }[] = [];
  const log = createLogger(base, { ...o, write: (level, line) => lines.push({ level, line }) });
  return { log, lines };
}

/** an error thrown from a named function, so its stack has a frame to look for */
function failingStep(): Error {
  try {
    throw Object.assign(new Error("disk on fire"), { code: "EIO", cause: new Error("smoke seen") });
  } catch (err) {
    return err as Error;
  }
}

t("log - json: one object per line with ts, level, role, instance, the fields and msg", () => {
  const { log, lines } = collect({ role: "query", instance: "q1" }, { format: "json" });
  log.info("serving tracker commands", { service: "mogile-tracker", commands: 51, skipped: undefined, nested: { a: [1, 2] } });
  log.child({ host: "host1" }).warn("slow disk", { devid: 3 });
  assert.is(lines.length, 2);
  for (const { line } of lines) assert.not.match(line, /\n/, "one line per event");
  const first = JSON.parse(lines[0].line);
  assert.ok(!Number.isNaN(Date.parse(first.ts)), "ts is an ISO time");
  assert.equal({ ...first, ts: undefined }, {
    ts: undefined, level: "info", role: "query", instance: "q1", msg: "serving tracker commands",
    service: "mogile-tracker", commands: 51, nested: { a: [1, 2] },
  });
  assert.not.ok("skipped" in first, "undefined fields are left out");
  const second = JSON.parse(lines[1].line);
  assert.equal([second.level, second.role, second.instance, second.host, second.devid, second.msg], ["warn", "query", "q1", "host1", 3, "slow disk"]);
  assert.is(lines[1].level, "warn");
});

t("log - json: an Error field is logged with its name, message, code, stack and cause", () => {
  const { log, lines } = collect({ role: "storage", instance: "s1" }, { format: "json" });
  log.error("storage request failed", { method: "PUT", err: failingStep() });
  const rec = JSON.parse(lines[0].line);
  assert.is(rec.err.name, "Error");
  assert.is(rec.err.message, "disk on fire");
  assert.is(rec.err.code, "EIO");
  assert.match(rec.err.stack, /^Error: disk on fire\n\s+at failingStep/);
  assert.is(rec.err.cause.message, "smoke seen");
  assert.match(rec.err.cause.stack, /smoke seen/);
});

t("log - json: reserved names, bigints and cycles never break a line", () => {
  const { log, lines } = collect({ role: "x" }, { format: "json" });
  const loop: Record<string, unknown> = { name: "loop" };
  loop.self = loop;
  log.info("odd fields", { msg: "a field called msg", level: "a field called level", big: 2n ** 70n, loop });
  const rec = JSON.parse(lines[0].line);
  assert.equal([rec.msg, rec.level, rec.field_msg, rec.field_level], ["odd fields", "info", "a field called msg", "a field called level"]);
  assert.is(rec.big, (2n ** 70n).toString());
  assert.equal(rec.loop, { name: "loop", self: "[circular]" });
});

t("log - json: our own errors (MogileError, whose toJSON is the wire reply) keep their stack; a shared object is not a cycle", () => {
  const { log, lines } = collect({ role: "query" }, { format: "json" });
  const shared = { a: 1 };
  log.error("command failed", { err: new MogileError("db", "boom"), one: shared, two: shared });
  const rec = JSON.parse(lines[0].line);
  assert.is(rec.err.message, "boom");
  assert.is(rec.err.code, "db");
  assert.match(rec.err.stack, /boom\n\s+at /);
  assert.equal([rec.one, rec.two], [{ a: 1 }, { a: 1 }]);
});

t("log - text: ts LEVEL role=… instance=… msg=… k=v on one line", () => {
  const { log, lines } = collect({ role: "legacy", instance: "l1" }, { format: "text" });
  log.info("listening", { port: 7001, bind: "127.0.0.1", note: "two words" });
  assert.match(lines[0].line, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  role=legacy instance=l1 msg=listening port=7001 bind=127\.0\.0\.1 note="two words"$/);
});

t("log - text: an Error field carries its code, stack and cause, escaped onto the same line", () => {
  const { log, lines } = collect({ role: "storage", instance: "s1" }, { format: "text" });
  const err = failingStep();
  log.error("storage request failed", { url: "/dev1/0/000/000/0000000001.fid", err });
  const line = lines[0].line;
  assert.not.match(line, /\n/, "the stack's newlines are escaped");
  assert.match(line, / ERROR role=storage instance=s1 msg="storage request failed" url=\/dev1\/0\/000\/000\/0000000001\.fid err="disk on fire" err\.code=EIO err\.stack="Error: disk on fire\\n\s+at failingStep/);
  assert.match(line, / err\.cause="smoke seen"$/);
  // the stack as written decodes back to the error's own
  const stack = JSON.parse(/ err\.stack=("(?:[^"\\]|\\.)*")/.exec(line)![1]);
  assert.is(stack, err.stack);
});

t("log - MOGILE_LOG_FORMAT and MOGILE_LOG_LEVEL pick the format and the lowest level", () => {
  const saved = { format: process.env.MOGILE_LOG_FORMAT, level: process.env.MOGILE_LOG_LEVEL };
  try {
    process.env.MOGILE_LOG_FORMAT = "json";
    process.env.MOGILE_LOG_LEVEL = "warn";
    const { log, lines } = collect({ role: "monitor", instance: "m1" });
    log.info("not written");
    log.warn("written", { devid: 1 });
    assert.is(lines.length, 1);
    assert.equal(JSON.parse(lines[0].line).msg, "written");
    // a child keeps its parent's format and level
    log.child({ devid: 2 }).debug("not written either");
    log.child({ devid: 2 }).error("also written");
    assert.is(JSON.parse(lines[1].line).devid, 2);

    delete process.env.MOGILE_LOG_FORMAT;
    delete process.env.MOGILE_LOG_LEVEL;
    const text = collect({ role: "monitor" });
    text.log.debug("below info");
    text.log.info("plain text");
    assert.is(text.lines.length, 1);
    assert.match(text.lines[0].line, / INFO  role=monitor msg="plain text"$/);
    // the level given as the second argument, as tools pass it, still works
    const quiet: string[] = [];
    const q = createLogger({ role: "tool" }, "error");
    assert.type(q.info, "function");
    createLogger({ role: "tool" }, { level: "error", write: (_l, line) => quiet.push(line) }).warn("dropped");
    assert.is(quiet.length, 0);
  } finally {
    if (saved.format === undefined) delete process.env.MOGILE_LOG_FORMAT; else process.env.MOGILE_LOG_FORMAT = saved.format;
    if (saved.level === undefined) delete process.env.MOGILE_LOG_LEVEL; else process.env.MOGILE_LOG_LEVEL = saved.level;
  }
});

t("log - a slow tracker command is a warning, one per command every 10 s with the others counted", () => {
  const { log, lines } = collect({ role: "query" }, { format: "json" });
  let now = 1_000_000;
  const slow = slowCommands(log, 3_000, () => now);
  slow("get_paths", 2_999, null);
  slow("sleep", 60_000, null);
  assert.is(lines.length, 0, "fast commands and sleeps are not slow");
  slow("create_open", 5_200, new MogileError("timeout", "uploads bucket did not answer"));
  now += 2_000;
  slow("create_open", 7_000, null);
  slow("create_open", 8_000, null);
  slow("get_paths", 4_000, null);
  now += 8_000;
  slow("create_open", 3_500, null);
  const recs = lines.map((l) => JSON.parse(l.line));
  assert.equal(recs.map((r) => [r.level, r.msg, r.command, r.ms, r.alsoSlowSinceLast]), [
    ["warn", "slow command", "create_open", 5200, undefined],
    ["warn", "slow command", "get_paths", 4000, undefined],
    ["warn", "slow command", "create_open", 3500, 2],
  ]);
  assert.is(recs[0].err.message, "uploads bucket did not answer");
});

t.run();
