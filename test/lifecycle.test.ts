// Integration: the reaper expires abandoned uploads; a full restart on the same data dir keeps files;
// actors drain and exit cleanly on SIGTERM.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { until, readAll } from "./helpers/until.ts";
import { fidPath } from "../protocol/paths.ts";
import { MogileError } from "../protocol/errors.ts";
import { httpRequest, drain } from "../protocol/http.ts";

const t = suite<{ tc: TestCluster }>("lifecycle");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("lifecycle", { env: { MOGILE_UPLOAD_TTL_SEC: "2", MOGILE_REAPER_INTERVAL_MS: "300" } });
  await ctx.tc.client.createDomain("d");
});
t.after(async (ctx) => { await ctx.tc?.stop(); });

const code = async (p: Promise<unknown>) => { try { await p; return "ok"; } catch (e) { return e instanceof MogileError ? e.code : String(e); } };

t("reaper - an upload opened and never closed expires and its bytes are removed", async ({ tc }) => {
  const open = await tc.client.rpc("create_open", { domain: "d", key: "abandoned" });
  const res = await httpRequest(open.path, { method: "PUT", body: randomBytes(1000) });
  await drain(res);
  const host = tc.cluster.storage.find((s) => s.devids.includes(open.devid))!;
  const file = path.join(host.root, fidPath(open.devid, open.fid));
  assert.ok(existsSync(file), "bytes were written");
  await until(() => !existsSync(file), 20_000, "abandoned bytes removed");
  assert.is(await code(tc.client.rpc("create_close", { domain: "d", key: "abandoned", fid: open.fid, devid: open.devid, path: open.path, size: 1000 })), "no_temp_file");
  assert.is(await code(tc.client.getPaths("d", "abandoned")), "unknown_key");
});

t("restart - stopping and starting the whole cluster on the same data dir keeps every file", async (ctx) => {
  const files = new Map<string, Buffer>();
  for (let i = 0; i < 20; i++) files.set(`keep/${i}`, randomBytes(1000 + i * 517));
  for (const [k, v] of files) await ctx.tc.client.put("d", k, v);
  await until(async () => {
    for (const k of files.keys()) if ((await ctx.tc.client.fileInfo("d", k)).devcount < 2) return false;
    return true;
  }, 30_000, "all replicated");
  const dataDir = ctx.tc.dataDir;
  await ctx.tc.stop({ keepData: true });
  // every actor drained and exited 0 on SIGTERM
  for (const a of ctx.tc.cluster.actors) assert.is(a.proc.exitCode, 0, `${a.instance} exit code`);
  for (const s of ctx.tc.cluster.storage) assert.is(s.proc.exitCode, 0, `${s.host} exit code`);

  ctx.tc = await startTestCluster("lifecycle", { dataDir, env: { MOGILE_UPLOAD_TTL_SEC: "2", MOGILE_REAPER_INTERVAL_MS: "300" } });
  for (const [k, v] of files) {
    const got = await readAll((await ctx.tc.client.get("d", k)).body);
    assert.ok(got.equals(v), `${k} survived the restart`);
    assert.is((await ctx.tc.client.fileInfo("d", k)).devcount, 2);
  }
  // and the restarted cluster keeps taking writes with fresh fids
  const again = await ctx.tc.client.put("d", "after-restart", Buffer.from("still here"));
  assert.ok(again.fid > 0);
  assert.is((await readAll((await ctx.tc.client.get("d", "after-restart")).body)).toString(), "still here");
});

t.run();
