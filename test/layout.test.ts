import { test } from "uvu";
import * as assert from "uvu/assert";
import { fidPath, parseFidPath } from "../protocol/paths.ts";
import { parseRange } from "../actors/storage/server.ts";

test("paths - lay out fids like MogileFS", () => {
  assert.is(fidPath(7, 123), "/dev7/0/000/000/0000000123.fid");
  assert.is(fidPath(7, 1234567), "/dev7/0/001/234/0001234567.fid");
  assert.is(fidPath(7, 98765432101), "/dev7/9/876/543/98765432101.fid");
});

test("paths - parse only canonical fid paths", () => {
  assert.equal(parseFidPath("/dev7/0/001/234/0001234567.fid"), { devid: 7, fid: 1234567 });
  assert.is(parseFidPath("/dev7/../../etc/passwd"), null);
  assert.is(parseFidPath("/dev7/0/001/234/../0001234567.fid"), null);
  assert.is(parseFidPath("/dev7/0/001/235/0001234567.fid"), null, "directories must match the fid");
  assert.is(parseFidPath("/dev0/0/000/000/0000000001.fid"), null);
  assert.is(parseFidPath("/dev7/0/000/000/0000000001.fid/x"), null);
  assert.is(parseFidPath("/dev7/usage"), null);
});

test("range - single ranges, suffixes and open ends", () => {
  assert.equal(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
  assert.equal(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.equal(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.equal(parseRange("bytes=50-500", 100), { start: 50, end: 99 });
  assert.equal(parseRange("bytes=-500", 100), { start: 0, end: 99 });
});

test("range - unsatisfiable and ignorable ranges", () => {
  assert.is(parseRange("bytes=100-", 100), "invalid");
  assert.is(parseRange("bytes=5-2", 100), null, "an invalid range-spec is ignored (RFC 9110)");
  assert.is(parseRange("bytes=-0", 100), "invalid");
  assert.is(parseRange("bytes=0-1,5-6", 100), null, "multi-range is served whole");
  assert.is(parseRange("items=0-1", 100), null);
  assert.is(parseRange(undefined, 100), null);
});

test.run();
