// Integration: the `mogile` CLI spawned as a user runs it, against a real cluster.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { tempDir, until } from "./helpers/until.ts";
import { REPO } from "../deploy/services.ts";

interface Run { code: number | null; stdout: string; stderr: string; bytes: Buffer }

/** Runs the npm bin (`bin/mogile.js`, what `npx mogile` runs) with the cluster's NATS URL. */
function mogile(args: string[], opts: { natsUrl?: string; dataDir?: string; input?: Buffer; cmd?: string[] } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [file, ...pre] = opts.cmd ?? [process.execPath, path.join(REPO, "bin", "mogile.js")];
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0" };
    delete env.MOGILE_DOMAIN;
    delete env.MOGILE_NATS_URL;
    delete env.MOGILE_NATS_NKEY;
    delete env.MOGILE_NATS_USER;
    delete env.MOGILE_DATA_DIR;
    if (opts.natsUrl) env.MOGILE_NATS_URL = opts.natsUrl;
    // the CLI finds the cluster's credentials in its data dir, as from a checkout running `npm start`
    if (opts.dataDir) env.MOGILE_DATA_DIR = opts.dataDir;
    const proc = spawn(file, [...pre, ...args], {
      cwd: REPO,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on("data", (c: Buffer) => out.push(c));
    proc.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.on("error", reject);
    proc.on("close", (code) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({ code, stdout: bytes.toString(), stderr: Buffer.concat(err).toString(), bytes });
    });
    proc.stdin.end(opts.input);
  });
}

const t = suite<{ tc: TestCluster; dir: string; run: (...args: string[]) => Promise<Run> }>("cli");
t.before(async (ctx) => {
  ctx.tc = await startTestCluster("cli");
  ctx.dir = tempDir("cli-files");
  ctx.run = (...args) => mogile(args, { natsUrl: ctx.tc.cluster.natsUrl, dataDir: ctx.tc.dataDir });
});
t.after(async (ctx) => {
  await ctx.tc?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

/** asserts success and returns stdout */
const ok = (r: Run, what: string) => {
  assert.is(r.code, 0, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  return r.stdout;
};
/** asserts a MogileFS failure: exit 1 and `error: <code>:` on stderr */
const fails = (r: Run, code: string, what: string) => {
  assert.is(r.code, 1, `${what}: exit ${r.code}, stdout: ${r.stdout}, stderr: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: ${code}: `, "m"), `${what}: stderr ${r.stderr}`);
};

t("cli - --help works for the root and for a subcommand, usage errors exit 2", async () => {
  const root = await mogile(["--help"], { cmd: ["npx", "mogile"] });
  assert.is(root.code, 0, root.stderr);
  for (const word of ["host", "device", "domain", "class", "check", "put", "get", "ls", "Exit codes"]) assert.match(root.stdout, word);
  const put = await mogile(["put", "--help"]);
  assert.is(put.code, 0);
  assert.match(put.stdout, "--domain");
  assert.match(put.stdout, "--json");
  const group = await mogile(["class", "add", "--help"]);
  assert.match(group.stdout, "--mindevcount");
  const unknown = await mogile(["frobnicate"]);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, "unknown command");
  const missing = await mogile(["put", "only-one-arg"]);
  assert.is(missing.code, 2);
  const bad = await mogile(["device", "mark", "host1", "notanumber", "alive"]);
  assert.is(bad.code, 2);
});

t("cli - an unreachable NATS server fails with unavailable and exit 1", async () => {
  fails(await mogile(["stats"], { natsUrl: "nats://127.0.0.1:1" }), "unavailable", "stats");
});

t("cli - without credentials NATS refuses the CLI: permission_denied, exit 1, and where to find them", async ({ tc }) => {
  const r = await mogile(["stats"], { natsUrl: tc.cluster.natsUrl, dataDir: "/nonexistent" });
  fails(r, "permission_denied", "stats");
  assert.match(r.stderr, /--nkey/);
  // the app user may not run admin commands
  const app = await mogile(["--user", "app", "domain", "add", "by-app"], { natsUrl: tc.cluster.natsUrl, dataDir: tc.dataDir });
  fails(app, "permission_denied", "domain add as app");
});

t("cli - domain add and list, as a table and as JSON; a duplicate fails with domain_exists", async ({ run }) => {
  assert.match(ok(await run("domain", "add", "photos"), "domain add"), "photos");
  fails(await run("domain", "add", "photos"), "domain_exists", "second domain add");
  assert.match(ok(await run("domain", "list"), "domain list"), "photos");
  const list = JSON.parse(ok(await run("domain", "list", "--json"), "domain list --json"));
  assert.ok(list.domains.some((d: { domain: string }) => d.domain === "photos"));
});

t("cli - class add, list and modify", async ({ run }) => {
  ok(await run("class", "add", "photos", "thumbs", "--mindevcount", "1"), "class add");
  fails(await run("class", "add", "photos", "thumbs", "--mindevcount", "1"), "class_exists", "second class add");
  assert.match(ok(await run("class", "list"), "class list"), "thumbs");
  let classes = JSON.parse(ok(await run("class", "list", "photos", "--json"), "class list --json")).classes;
  assert.equal(classes.find((c: { class: string }) => c.class === "thumbs")?.mindevcount, 1);
  ok(await run("class", "modify", "photos", "thumbs", "--mindevcount", "2"), "class modify");
  classes = JSON.parse(ok(await run("--json", "class", "list", "photos"), "class list --json")).classes;
  assert.equal(classes.find((c: { class: string }) => c.class === "thumbs")?.mindevcount, 2);
  // copies after the ack (MogileFS behaviour), and back
  ok(await run("class", "modify", "photos", "thumbs", "--async-copies", "on"), "class modify --async-copies on");
  classes = JSON.parse(ok(await run("--json", "class", "list", "photos"), "class list --json")).classes;
  assert.is(classes.find((c: { class: string }) => c.class === "thumbs")?.async_copies, true);
  ok(await run("class", "modify", "photos", "thumbs", "--async-copies", "off"), "class modify --async-copies off");
  classes = JSON.parse(ok(await run("--json", "class", "list", "photos"), "class list --json")).classes;
  assert.is(classes.find((c: { class: string }) => c.class === "thumbs")?.async_copies, undefined);
});

t("cli - put a small and an 8 MB file, get them back byte-identical, info, ls and rm", async ({ run, dir, tc }) => {
  const small = randomBytes(10_000);
  const big = randomBytes(8 * 1024 * 1024);
  writeFileSync(path.join(dir, "small"), small);
  writeFileSync(path.join(dir, "big"), big);

  assert.match(ok(await run("put", path.join(dir, "small"), "docs/small", "--domain", "photos"), "put small"), "docs/small");
  const putBig = await run("put", path.join(dir, "big"), "docs/big", "-d", "photos", "--class", "thumbs", "--progress", "--json");
  const stored = JSON.parse(ok(putBig, "put big"));
  assert.is(stored.length, big.length);
  assert.match(putBig.stderr, "100%", "the progress bar reached 100%");
  const fromStdin = await mogile(["put", "-", "docs/stdin", "-d", "photos"], { natsUrl: tc.cluster.natsUrl, dataDir: tc.dataDir, input: small });
  ok(fromStdin, "put from stdin");

  const got = await run("get", "docs/small", "-d", "photos");
  assert.ok(got.bytes.equals(small), "get to stdout is byte-identical");
  const stdinCopy = await run("get", "docs/stdin", "-", "-d", "photos");
  assert.ok(stdinCopy.bytes.equals(small), "a stdin upload reads back byte-identical");
  const dest = path.join(dir, "big.out");
  const getBig = await run("get", "docs/big", dest, "-d", "photos", "--progress");
  ok(getBig, "get big");
  assert.match(getBig.stderr, "100%");
  assert.ok(readFileSync(dest).equals(big), "get to a file is byte-identical");

  const info = await until(async () => {
    const i = JSON.parse(ok(await run("info", "docs/big", "-d", "photos", "--json"), "info --json"));
    return i.devcount === 2 && i;
  }, 20_000, "2 copies of docs/big");
  assert.is(info.length, big.length);
  assert.is(info.class, "thumbs");
  assert.is(info.devids.length, 2);
  assert.ok(info.paths.length >= 1);
  const table = ok(await run("info", "docs/big", "-d", "photos"), "info");
  for (const word of ["fid", String(info.fid), "thumbs", "path 1"]) assert.match(table, word);

  assert.equal(ok(await run("ls", "-d", "photos"), "ls").trim().split("\n"), ["docs/big", "docs/small", "docs/stdin"]);
  assert.equal(ok(await run("ls", "-d", "photos", "--limit", "1", "--after", "docs/big"), "ls paged").trim(), "docs/small");
  const listed = JSON.parse(ok(await run("ls", "-d", "photos", "--prefix", "docs/s", "--json"), "ls --json"));
  assert.equal(listed.keys, ["docs/small", "docs/stdin"]);
  assert.is(ok(await run("ls", "-d", "photos", "--prefix", "nothing/"), "ls with no match"), "", "none_match prints nothing");

  ok(await run("rm", "docs/small", "-d", "photos"), "rm");
  fails(await run("info", "docs/small", "-d", "photos"), "unknown_key", "info after rm");
  fails(await run("get", "docs/small", "-d", "photos"), "unknown_key", "get after rm");
  fails(await run("rm", "docs/small", "-d", "photos"), "unknown_key", "second rm");
});

t("cli - failures print the MogileFS error code and exit 1", async ({ run, dir }) => {
  writeFileSync(path.join(dir, "f"), "x");
  fails(await run("put", path.join(dir, "f"), "k", "-d", "nosuchdomain"), "unreg_domain", "put to an unknown domain");
  fails(await run("put", path.join(dir, "missing"), "k", "-d", "photos"), "ENOENT", "put of a missing file");
  fails(await run("ls", "-d", "nosuchdomain"), "unreg_domain", "ls of an unknown domain");
  fails(await run("class", "add", "photos", "c", "--replpolicy", "Bogus()"), "invalid_replpolicy", "bad replpolicy");
});

t("cli - check, stats, host list and device list show the cluster", async ({ run, tc }) => {
  const check = ok(await run("check"), "check");
  for (const word of ["tracker: OK", "host1", "host2", "host3", "dev6", "writeable", "3 hosts, 6 devices"]) assert.match(check, word);
  const health = JSON.parse(ok(await run("check", "--json"), "check --json"));
  assert.is(health.devices.length, 6);
  assert.is(health.summary.writeable, 6);

  const stats = JSON.parse(ok(await run("stats", "--json"), "stats --json"));
  assert.ok(stats.files >= 2, `files: ${stats.files}`);
  assert.ok(stats.domains >= 1);
  assert.match(ok(await run("stats"), "stats"), "files");

  const hosts = ok(await run("host", "list"), "host list");
  for (const s of tc.cluster.storage) assert.match(hosts, s.host);
  assert.is(JSON.parse(ok(await run("host", "list", "--json"), "host list --json")).hosts.length, 3);
  assert.match(ok(await run("device", "list"), "device list"), "dev1");
  assert.is(JSON.parse(ok(await run("device", "list", "--json"), "device list --json")).devices.length, 6);
  assert.is(JSON.parse(ok(await run("device", "list", "host1", "--json"), "device list host1")).devices.length, 2);
});

t("cli - host and device admin: add, modify, mark, delete", async ({ run }) => {
  const added = JSON.parse(ok(await run("host", "add", "spare", "--ip", "127.0.0.1", "--port", "7999", "--json"), "host add"));
  assert.is(added.hostname, "spare");
  fails(await run("host", "add", "spare", "--ip", "127.0.0.1", "--port", "7999"), "host_exists", "second host add");
  ok(await run("host", "modify", "spare", "--getport", "8000"), "host modify");
  ok(await run("host", "mark", "spare", "down"), "host mark");
  const host = JSON.parse(ok(await run("host", "list", "--json"), "host list")).hosts.find((h: { hostname: string }) => h.hostname === "spare");
  assert.is(host.http_get_port, 8000);
  assert.is(host.status, "down");

  // a device on a host that is down never receives files, so the other tests are not disturbed
  ok(await run("device", "add", "spare", "99", "--state", "down"), "device add");
  ok(await run("device", "modify", "spare", "99", "--weight", "50"), "device modify");
  ok(await run("device", "mark", "spare", "99", "dead"), "device mark");
  const dev = JSON.parse(ok(await run("device", "list", "spare", "--json"), "device list spare")).devices[0];
  assert.is(dev.devid, 99);
  assert.is(dev.weight, 50);
  assert.is(dev.status, "dead");
  fails(await run("device", "mark", "host1", "99", "down"), "host_mismatch", "device on the wrong host");
  fails(await run("host", "delete", "spare"), "host_not_empty", "delete of a host with devices");
  fails(await run("host", "delete", "nosuchhost"), "(unknown_host|host_not_found)", "delete of an unknown host");
});

t("cli - domain and class delete", async ({ run }) => {
  ok(await run("domain", "add", "scratch"), "domain add");
  ok(await run("class", "add", "scratch", "tmp"), "class add");
  fails(await run("domain", "delete", "scratch"), "domain_has_classes", "delete of a domain with classes");
  ok(await run("class", "delete", "scratch", "tmp"), "class delete");
  ok(await run("domain", "delete", "scratch"), "domain delete");
  fails(await run("domain", "delete", "photos"), "(domain_has_files|domain_has_classes)", "delete of a domain with files");
});

t.run();
