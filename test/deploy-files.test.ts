// The files operators install by hand: systemd units (checked by systemd-analyze verify), their
// example environment files, and the mongosh script that initiates the MongoDB replica set.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import vm from "node:vm";
import { REPO } from "../deploy/services.ts";

const UNITS = ["mogile-nats.service", "mogile-node.service", "mogile@.service"];
const unitDir = path.join(REPO, "deploy", "systemd");
const INSTALL = "/opt/mogile";

/**
 * A throwaway root for `systemd-analyze verify --root`: the units as they are, stub targets they
 * depend on (basic.target etc.; this machine's own are not used), and an executable stub at every
 * absolute path a unit runs, so verify checks the units and not this machine's install.
 */
function verifyRoot(edit: (name: string, text: string) => string = (_, t) => t): string {
  const root = mkdtempSync(path.join(tmpdir(), "mogile-units-"));
  const etc = path.join(root, "etc", "systemd", "system");
  const lib = path.join(root, "usr", "lib", "systemd", "system");
  mkdirSync(etc, { recursive: true });
  mkdirSync(lib, { recursive: true });
  for (const t of ["sysinit.target", "basic.target", "shutdown.target", "network-online.target", "multi-user.target"]) {
    writeFileSync(path.join(lib, t), "[Unit]\nDescription=stub\n");
  }
  for (const name of UNITS) {
    const text = edit(name, readFileSync(path.join(unitDir, name), "utf8"));
    writeFileSync(path.join(etc, name), text);
    for (const [, bin] of text.matchAll(/^Exec\w+=[-@:+!]*(\/\S+)/gm)) {
      const stub = path.join(root, bin);
      mkdirSync(path.dirname(stub), { recursive: true });
      writeFileSync(stub, "#!/bin/sh\n");
      chmodSync(stub, 0o755);
    }
  }
  return root;
}

const hasVerify = spawnSync("systemd-analyze", ["--version"]).status === 0;
const INSTANCES = ["mogile-nats.service", "mogile-node.service", "mogile@query.service", "mogile@storage.service", "mogile@replicator.service"];

/** systemd-analyze verify's output (warnings included) and exit status */
function verify(root: string, units = INSTANCES): { status: number | null; output: string } {
  const r = spawnSync("systemd-analyze", ["verify", `--root=${root}`, "--man=no", "--generators=no", ...units], {
    encoding: "utf8",
    // warnings (unknown keys, bad values) are printed at level warning: make sure they are shown
    env: { ...process.env, SYSTEMD_LOG_LEVEL: "info", SYSTEMD_LOG_COLOR: "0" },
  });
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

test("systemd units - systemd-analyze verify finds nothing to say", () => {
  if (!hasVerify) return void console.log("  (systemd-analyze not installed: units not verified)");
  const root = verifyRoot();
  try {
    const r = verify(root);
    assert.is(r.output, "", `systemd-analyze verify:\n${r.output}`);
    assert.is(r.status, 0, r.output);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("systemd units - the check notices a misspelled directive", () => {
  if (!hasVerify) return;
  const root = verifyRoot((name, t) => (name === "mogile-node.service" ? t.replace("KillMode=mixed", "KilMode=mixed") : t));
  try {
    assert.match(verify(root, ["mogile-node.service"]).output, /Unknown key 'KilMode'/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("systemd units - run what this checkout has, at /opt/mogile, with /usr/bin/node", () => {
  for (const name of UNITS) {
    const text = readFileSync(path.join(unitDir, name), "utf8");
    const exec = text.match(/^ExecStart=(.*)$/m)?.[1];
    assert.ok(exec, `${name} has an ExecStart`);
    for (const arg of exec.split(/\s+/).filter((a) => a.startsWith(INSTALL + "/"))) {
      const local = path.join(REPO, arg.slice(INSTALL.length));
      // nats-server is built by deploy/setup.sh (npm test runs it first)
      assert.ok(existsSync(local), `${name}: ${arg} is ${local} in this checkout, which does not exist`);
    }
    if (name !== "mogile-nats.service") {
      assert.ok(exec.startsWith("/usr/bin/node --import tsx "), `${name}: ${exec}`);
      assert.match(text, /^WorkingDirectory=\/opt\/mogile$/m, "tsx is found in /opt/mogile/node_modules");
    }
    for (const d of ["NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes", "User=mogile"]) assert.ok(text.includes(`\n${d}\n`), `${name} sets ${d}`);
  }
  const node = readFileSync(path.join(unitDir, "mogile-node.service"), "utf8");
  assert.match(node, /--config \/etc\/mogile\/node\.json$/m);
  assert.match(node, /^KillMode=mixed$/m);
  const tpl = readFileSync(path.join(unitDir, "mogile@.service"), "utf8");
  assert.match(tpl, /^ExecStart=.* \/opt\/mogile\/bin\/actor\.ts %i$/m);
  assert.match(tpl, /^EnvironmentFile=\/etc\/mogile\/mogile\.env\nEnvironmentFile=-\/etc\/mogile\/%i\.env$/m, "the role's file is read last (it overrides)");
  assert.match(readFileSync(path.join(unitDir, "mogile-nats.service"), "utf8"), /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

test("systemd units - the example env files name only settings the code reads", () => {
  const code = ["actors", "protocol", "deploy"].map((d) => spawnSync("grep", ["-rhoE", "MOGILE_[A-Z0-9_]+", path.join(REPO, d)], { encoding: "utf8" }).stdout).join("");
  const known = new Set(code.split("\n"));
  for (const f of ["mogile.env.example", "storage.env.example"]) {
    const text = readFileSync(path.join(unitDir, f), "utf8");
    const names = [...text.matchAll(/^#?\s*(MOGILE_[A-Z0-9_]+)=/gm)].map((m) => m[1]);
    assert.ok(names.length > 3, f);
    for (const n of names) assert.ok(known.has(n), `${f}: ${n} is read nowhere in actors/, protocol/ or deploy/`);
  }
});

/** Runs deploy/mongo-replica-set.js as mongosh would, against a stub `rs` */
function runMongoScript(env: Record<string, string>, statuses: Array<() => unknown>) {
  const out: string[] = [];
  const initiated: unknown[] = [];
  let calls = 0, slept = 0, exitCode = 0;
  class Quit extends Error {}
  const members = (state: string) => (env.MOGILE_RS_MEMBERS ?? "").split(",").map((name, i) => ({ name, stateStr: i === 0 ? state : "SECONDARY", health: 1, self: i === 0 }));
  const context = vm.createContext({
    process: { env },
    print: (...a: unknown[]) => out.push(a.join(" ")),
    sleep: () => { slept++; },
    quit: (code = 0) => { exitCode = code; throw new Quit(); },
    rs: {
      status: () => {
        const next = statuses[Math.min(calls++, statuses.length - 1)]();
        return typeof next === "string" ? { set: env.MOGILE_RS_NAME ?? "rs0", members: members(next) } : next;
      },
      initiate: (config: unknown) => { initiated.push(JSON.parse(JSON.stringify(config))); return { ok: 1 }; },
    },
  });
  try {
    vm.runInContext(readFileSync(path.join(REPO, "deploy", "mongo-replica-set.js"), "utf8"), context, { filename: "mongo-replica-set.js" });
  } catch (err) {
    if (!(err instanceof Quit)) throw err;
  }
  return { out: out.join("\n"), initiated, slept, exitCode };
}

const notInitiated = () => { throw Object.assign(new Error("no replset config has been received"), { code: 94, codeName: "NotYetInitialized" }); };
const MEMBERS = "10.0.0.1:27017,10.0.0.2:27017,10.0.0.3:27017";

test("mongo replica set - initiates with the listed members, waits for a primary, prints the URL", () => {
  const r = runMongoScript({ MOGILE_RS_MEMBERS: MEMBERS }, [notInitiated, () => "SECONDARY", () => "PRIMARY"]);
  assert.is(r.exitCode, 0, r.out);
  assert.equal(r.initiated, [{ _id: "rs0", members: [{ _id: 0, host: "10.0.0.1:27017" }, { _id: 1, host: "10.0.0.2:27017" }, { _id: 2, host: "10.0.0.3:27017" }] }]);
  assert.is(r.slept, 1, "waited once for the election");
  assert.match(r.out, /^primary: 10\.0\.0\.1:27017$/m);
  assert.match(r.out, /^MOGILE_MONGO_URL=mongodb:\/\/10\.0\.0\.1:27017,10\.0\.0\.2:27017,10\.0\.0\.3:27017\/\?replicaSet=rs0$/m, r.out);
});

test("mongo replica set - a second run initiates nothing; a bad member list is refused", () => {
  const again = runMongoScript({ MOGILE_RS_MEMBERS: MEMBERS, MOGILE_RS_NAME: "meta" }, [() => "PRIMARY"]);
  assert.is(again.exitCode, 0, again.out);
  assert.equal(again.initiated, []);
  assert.match(again.out, /\/\?replicaSet=meta$/m);
  const noPrimary = runMongoScript({ MOGILE_RS_MEMBERS: MEMBERS, MOGILE_RS_TIMEOUT_MS: "1" }, [() => "SECONDARY"]);
  assert.is(noPrimary.exitCode, 1, "no primary in time is a failure");
  assert.not.match(noPrimary.out, /MOGILE_MONGO_URL/);
  const bad = runMongoScript({ MOGILE_RS_MEMBERS: "10.0.0.1" }, [notInitiated]);
  assert.is(bad.exitCode, 2);
  assert.equal(bad.initiated, []);
});

test.run();
