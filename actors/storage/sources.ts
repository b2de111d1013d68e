// Where a storage agent may pull a replica from: only a registered storage node's copy of the
// very fid it is asked to store (a fetch request naming any other URL is refused: no SSRF).
import { parseFidPath } from "../../protocol/paths.ts";
import type { MogileClient } from "../../protocol/client.ts";

export class RegisteredSources {
  private addrs = new Set<string>();
  private loadedAt = 0;
  constructor(private readonly client: MogileClient, private readonly ttlMs = 30_000, private readonly minRefreshMs = 1_000) {}

  private async refresh(): Promise<void> {
    const hosts = (await this.client.rpc("get_hosts", {}, 5_000)).hosts;
    const next = new Set<string>();
    for (const h of hosts) {
      next.add(`${h.hostip}:${h.http_port}`);
      if (h.http_get_port) next.add(`${h.hostip}:${h.http_get_port}`);
    }
    this.addrs = next;
    this.loadedAt = Date.now();
  }

  /**
   * Throws unless `from` is `http://<registered storage node>/dev<N>/…/<fid>.fid` for this fid
   * (any fid when `fid` is null; a query string is then allowed: a signed read of a compose source);
   * returns its device and fid (the puller signs its GET for them).
   */
  async check(from: string, fid: number | null): Promise<{ devid: number; fid: number }> {
    let u: URL;
    try { u = new URL(from); } catch { throw new Error(`source ${from} is not a URL`); }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`source ${from}: only http(s) storage nodes`);
    if (u.username || u.password || (u.search && fid !== null) || u.hash) throw new Error(`source ${from} is not a plain fid URL`);
    const p = parseFidPath(u.pathname);
    if (!p || (fid !== null && p.fid !== fid)) throw new Error(`source ${from} is not a copy of fid ${fid}`);
    const addr = `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
    const age = Date.now() - this.loadedAt;
    // a node that registered moments ago: look again (at most once a second)
    if (age > this.ttlMs || (!this.addrs.has(addr) && age > this.minRefreshMs)) await this.refresh();
    if (!this.addrs.has(addr)) throw new Error(`source ${from} is not a registered storage node`);
    return p;
  }
}
