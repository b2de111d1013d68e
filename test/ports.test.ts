// freePort: ports for servers about to start are picked below the kernel's ephemeral range, so an
// outgoing connection cannot take one between the pick and the server's listen.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import net from "node:net";
import { freePort } from "../deploy/services.ts";

const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);

test("freePort hands out distinct free ports below the ephemeral range", async () => {
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, `no port handed out twice: ${ports.join(", ")}`);
  for (const p of ports) {
    assert.ok(p >= 10_000 && p < ephemeralLow, `${p} lies below the ephemeral range (${ephemeralLow}…)`);
  }
  // each one can be listened on
  for (const p of ports.slice(0, 5)) {
    const s = net.createServer();
    await new Promise<void>((resolve, reject) => { s.once("error", reject); s.listen(p, "127.0.0.1", resolve); });
    await new Promise<void>((r) => s.close(() => r()));
  }
});

test("freePort skips a port something else listens on", async () => {
  // servers on 2,000 ports of the range, not from freePort: without its check, 50 picks would almost surely hit one
  const held: net.Server[] = [];
  const heldPorts = new Set<number>();
  for (let i = 0; i < 4_000 && held.length < 2_000; i++) {
    const p = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000));
    if (heldPorts.has(p)) continue;
    const s = net.createServer();
    if (await new Promise<boolean>((resolve) => { s.once("error", () => resolve(false)); s.listen(p, "127.0.0.1", () => resolve(true)); })) {
      held.push(s);
      heldPorts.add(p);
    }
  }
  assert.ok(held.length >= 1_000, `held ${held.length} ports`);
  try {
    for (let i = 0; i < 50; i++) assert.not.ok(heldPorts.has(await freePort()), "a port in use is never handed out");
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
});

test.run();
