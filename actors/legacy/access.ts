// Who may use the classic tracker port: the protocol has no authentication, so the client's network is the only check.
import net from "node:net";

/**
 * Parse a comma-separated allowlist of addresses and CIDR networks, IPv4 and IPv6
 * (`127.0.0.0/8,::1`; `0.0.0.0/0,::/0` allows everyone). Throws on an entry that is not one,
 * so a typo stops the actor at start instead of silently refusing (or admitting) clients.
 */
export function parseAllowList(spec: string): net.BlockList {
  const list = new net.BlockList();
  const entries = spec.split(",").map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error("the allowlist is empty: no client could connect");
  for (const entry of entries) {
    const [addr, bits, extra] = entry.split("/");
    const family = net.isIP(addr);
    if (!family || extra !== undefined) throw new Error(`not an address or CIDR network: ${entry}`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) { list.addAddress(addr, type); continue; }
    const prefix = Number(bits);
    if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`bad prefix length in ${entry}`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

/**
 * Whether a peer address is on the allowlist. An IPv4 client of a dual-stack socket shows up as
 * `::ffff:a.b.c.d`; BlockList matches that against IPv4 rules, but unwrap it anyway so the rule
 * does not depend on that detail.
 */
export function isAllowed(list: net.BlockList, remote: string | undefined): boolean {
  if (!remote) return false; // a socket already gone has no address: nothing to serve
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  const addr = mapped ? mapped[1] : remote;
  const family = net.isIP(addr);
  if (!family) return false;
  try {
    return list.check(addr, family === 4 ? "ipv4" : "ipv6");
  } catch {
    return false; // e.g. a link-local address with a zone (fe80::1%eth0) that BlockList cannot parse
  }
}
