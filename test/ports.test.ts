// freePort: ports for servers about to start are picked below the kernel's ephemeral range, so an
// outgoing connection cannot take one between the pick and the server's listen.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import net from "node:net";
import { freePort } from "../deploy/services.ts";

const ephemeralLow = (() => {
  try { return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]); } catch { return 0; }
})();
/** the top of the range freePort picks from; it falls back to the kernel's choice where that range is too small */
const top = Math.min(30_000, ephemeralLow);
const usable = top - 10_000 >= 1_000;

test("freePort hands out distinct free ports below the ephemeral range", async () => {
  if (!usable) return void console.log(`  (skipped: the ephemeral range starts at ${ephemeralLow})`);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, `no port handed out twice: ${ports.join(", ")}`);
  for (const p of ports) {
    assert.ok(p >= 10_000 && p < top, `${p} lies between 10000 and the ephemeral range (${ephemeralLow}…) or 30000`);
  }
  // each one can be listened on
  for (const p of ports.slice(0, 5)) {
    const s = net.createServer();
    await new Promise<void>((resolve, reject) => { s.once("error", reject); s.listen(p, "127.0.0.1", resolve); });
    await new Promise<void>((r) => s.close(() => r()));
  }
});

test("freePort skips a port something else listens on", async () => {
  if (!usable) return;
  // servers on 2,000 ports of the range, not from freePort: without its check, 50 picks would almost surely hit one
  const held: net.Server[] = [];
  const heldPorts = new Set<number>();
  for (let i = 0; i < 4_000 && held.length < 2_000; i++) {
    const p = 10_000 + Math.floor(Math.random() * (top - 10_000));
    if (heldPorts.has(p)) continue;
    const s = net.createServer();
    if (await new Promise<boolean>((resolve) => { s.once("error", () => resolve(false)); s.listen(p, "127.0.0.1", () => resolve(true)); })) {
      held.push(s);
      heldPorts.add(p);
    }
  }
  try {
    assert.ok(held.length >= 1_000, `held ${held.length} ports`);
    for (let i = 0; i < 50; i++) assert.not.ok(heldPorts.has(await freePort()), "a port in use is never handed out");
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
});

test.run();
