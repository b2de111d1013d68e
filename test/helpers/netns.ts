// Simulated machines for the hosts test: Linux network namespaces joined by veth pairs to a bridge
// that lives in a namespace of its own ("the switch"). Addresses exist only on those links, so all
// traffic stays inside the namespaces. Everything made is removed by `destroy`, also after a failure.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";

export const canUseNetns = (): boolean => {
  if (process.getuid?.() !== 0) return false;
  try { execFileSync("ip", ["netns", "list"], { stdio: "ignore" }); return true; } catch { return false; }
};

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

export interface Machine { name: string; ns: string; address: string; /** the switch-side end of its link */ port: string; /** its own end, inside ns */ dev: string }

export class Net {
  readonly machines: Machine[] = [];
  readonly sw: string;
  private made: string[] = [];

  constructor(readonly id = randomBytes(3).toString("hex"), readonly subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16) % 250}`) {
    this.sw = `mg${id}sw`;
  }

  /** Create the switch and `n` machines m1..mn at <subnet>.1..n. */
  create(n: number): this {
    this.addNs(this.sw);
    ip("-n", this.sw, "link", "add", "br0", "type", "bridge");
    ip("-n", this.sw, "link", "set", "br0", "up");
    ip("-n", this.sw, "link", "set", "lo", "up");
    for (let i = 1; i <= n; i++) {
      const m: Machine = { name: `m${i}`, ns: `mg${this.id}m${i}`, address: `${this.subnet}.${i}`, port: `mg${this.id}p${i}`, dev: "eth0" };
      this.addNs(m.ns);
      const inner = `mg${this.id}e${i}`;
      ip("link", "add", inner, "type", "veth", "peer", "name", m.port);
      ip("link", "set", inner, "netns", m.ns);
      ip("link", "set", m.port, "netns", this.sw);
      ip("-n", m.ns, "link", "set", inner, "name", m.dev);
      ip("-n", m.ns, "addr", "add", `${m.address}/24`, "dev", m.dev);
      ip("-n", m.ns, "link", "set", m.dev, "up");
      ip("-n", m.ns, "link", "set", "lo", "up");
      ip("-n", this.sw, "link", "set", m.port, "master", "br0");
      ip("-n", this.sw, "link", "set", m.port, "up");
      this.machines.push(m);
    }
    return this;
  }

  private addNs(ns: string): void {
    ip("netns", "add", ns);
    this.made.push(ns);
  }

  /** Cut a machine off (its switch port down) or connect it again. */
  link(m: Machine, up: boolean): void {
    ip("-n", this.sw, "link", "set", m.port, up ? "up" : "down");
  }

  /**
   * Make a machine's link slow, both ways: netem delay and loss where the kernel has netem; else
   * (kernels built without it, as on these CI machines) a token bucket narrowing the link to
   * 2 Mbit/s with up to 200 ms of queueing, plus 2% of packets dropped at random by nftables in the
   * machine. Returns what was applied; `on` false clears it.
   */
  slow(m: Machine, on = true): string {
    const ends: [string, string][] = [[m.ns, m.dev], [this.sw, m.port]];
    const nft = (script: string) => execFileSync("ip", ["netns", "exec", m.ns, "nft", "-f", "-"], { input: script, stdio: ["pipe", "ignore", "pipe"] });
    if (!on) {
      for (const [ns, dev] of ends) { try { execFileSync("tc", ["-n", ns, "qdisc", "del", "dev", dev, "root"], { stdio: "ignore" }); } catch { /* none */ } }
      try { nft("delete table inet mogile_slow\n"); } catch { /* none */ }
      return "cleared";
    }
    const tc = (spec: string[]) => { for (const [ns, dev] of ends) execFileSync("tc", ["-n", ns, "qdisc", "replace", "dev", dev, "root", ...spec], { stdio: "pipe" }); };
    try {
      tc(["netem", "delay", "40ms", "10ms", "loss", "2%"]);
      return "netem delay 40 ms ±10 ms, 2% loss";
    } catch { /* no netem in this kernel */ }
    tc(["tbf", "rate", "2mbit", "burst", "32kbit", "latency", "200ms"]);
    try {
      nft([
        "table inet mogile_slow {",
        `  chain in { type filter hook input priority 0; iifname "${m.dev}" numgen random mod 100 < 2 drop; }`,
        `  chain out { type filter hook output priority 0; oifname "${m.dev}" numgen random mod 100 < 2 drop; }`,
        "}",
        "",
      ].join("\n"));
      return "tbf 2 Mbit/s with 200 ms of queueing, 2% loss (nftables)";
    } catch (err) {
      return `tbf 2 Mbit/s with 200 ms of queueing (no loss: nft failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message})`;
    }
  }

  /** Run a command inside a machine; output to `logFile`. */
  spawn(m: Machine, argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string }): ChildProcess {
    const fd = openSync(opts.logFile, "a");
    return spawn("ip", ["netns", "exec", m.ns, ...argv], { cwd: opts.cwd, env: opts.env, stdio: ["ignore", fd, fd] });
  }

  /** Every process inside a namespace. */
  pids(ns: string): number[] {
    try { return ip("netns", "pids", ns).split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
  }

  /** kill -9 every process of a machine: the machine is gone. */
  killAll(m: Machine | string): number {
    const ns = typeof m === "string" ? m : m.ns;
    const pids = this.pids(ns);
    for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
    return pids.length;
  }

  /** Kill what runs inside and remove every namespace (and with them the links). Bounded. */
  async destroy(): Promise<void> {
    for (const ns of this.made) this.killAll(ns);
    const deadline = Date.now() + 10_000;
    while (this.made.some((ns) => this.pids(ns).length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const ns of this.made.reverse()) { try { ip("netns", "del", ns); } catch { /* gone */ } }
    this.made = [];
  }
}
