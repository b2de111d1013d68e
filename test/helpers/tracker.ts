// A small classic MogileFS tracker client over a raw socket, written from MOGILEFS-PROTOCOL.md §1
// (not from the legacy actor's codec), plus the HTTP PUT/GET a MogileFS client does around it.
import * as assert from "uvu/assert";
import net from "node:net";
import http from "node:http";

const SAFE = /[A-Za-z0-9_,\-./\\: ]/;
/** the MogileFS encoder: the safe set as is, space as +, every other byte as uppercase %XX */
export function enc(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const ch = String.fromCharCode(b);
    out += b < 128 && SAFE.test(ch) ? (ch === " " ? "+" : ch) : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}
export function dec(s: string): string {
  return decodeURIComponent(s.replaceAll("+", " "));
}
export type Args = Record<string, string | number>;
export function argstring(args: Args): string {
  return Object.entries(args).map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join("&");
}

export type Answer = { ok: true; args: Record<string, string>; raw: string } | { ok: false; code: string; text: string; callid?: string; raw: string };

/** Parses one reply line the way the Perl client does (§1.3): `OK <args>` or `ERR <code> <text>[ <callid>]`. */
export function parseAnswer(line: string): Answer {
  if (line.startsWith("OK ")) {
    const args: Record<string, string> = {};
    for (const pair of line.slice(3).split("&")) {
      if (!pair) continue;
      const [k, v = ""] = pair.split("=", 2);
      args[dec(k)] = dec(v);
    }
    return { ok: true, args, raw: line };
  }
  const m = /^ERR (\S+) (\S+)(?: (\S+))?$/.exec(line);
  if (!m) throw new Error(`not a tracker reply: ${JSON.stringify(line)}`);
  return { ok: false, code: m[1], text: dec(m[2]), callid: m[3] === undefined ? undefined : dec(m[3]), raw: line };
}

export class Tracker {
  private buf = "";
  private lines: string[] = [];
  private waiters: ((l: string | null) => void)[] = [];
  closed = false;
  /** every command name sent through call() on this connection (coverage checks) */
  readonly sent = new Set<string>();

  private constructor(readonly socket: net.Socket, readonly replyTimeoutMs: number) {
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      this.buf += c;
      let nl;
      while ((nl = this.buf.indexOf("\r\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        const w = this.waiters.shift();
        if (w) w(line); else this.lines.push(line);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  static connect(port: number, replyTimeoutMs = 20_000): Promise<Tracker> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new Tracker(s, replyTimeoutMs)));
      s.once("error", reject);
    });
  }

  send(raw: string): void {
    this.socket.write(raw);
  }

  /** the next reply line (without CRLF), or null once the server closed the connection */
  next(timeoutMs = this.replyTimeoutMs): Promise<string | null> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no reply within " + timeoutMs + " ms")), timeoutMs);
      this.waiters.push((line) => { clearTimeout(t); resolve(line); });
    });
  }

  /** one request line (`command SP argstring CRLF`, as the Perl client sends it) and its parsed reply */
  async call(command: string, args: Args = {}): Promise<Answer> {
    this.sent.add(command.toLowerCase());
    this.send(`${command} ${argstring(args)}\r\n`);
    const line = await this.next();
    if (line === null) throw new Error(`connection closed before the reply to ${command}`);
    return parseAnswer(line);
  }

  /** the raw reply line to a request line given as is (no encoding) */
  async raw(line: string): Promise<string> {
    const m = /^(\w+)/.exec(line);
    if (m) this.sent.add(m[1].toLowerCase());
    this.send(line + "\r\n");
    const reply = await this.next();
    if (reply === null) throw new Error(`connection closed before the reply to ${line}`);
    return reply;
  }

  /** the OK fields, or a failed assertion that shows the ERR */
  async ok(command: string, args: Args = {}): Promise<Record<string, string>> {
    const a = await this.call(command, args);
    if (!a.ok) assert.unreachable(`${command} ${JSON.stringify(args)} answered ${a.raw}`);
    return (a as { args: Record<string, string> }).args;
  }

  /** the whole ERR (code, decoded text, callid), or a failed assertion that shows the OK */
  async fail(command: string, args: Args = {}): Promise<{ code: string; text: string; callid?: string; raw: string }> {
    const a = await this.call(command, args);
    if (a.ok) assert.unreachable(`${command} ${JSON.stringify(args)} answered ${a.raw}`);
    return a as { code: string; text: string; callid?: string; raw: string };
  }

  /** the ERR code, or a failed assertion that shows the OK */
  async err(command: string, args: Args = {}): Promise<string> {
    return (await this.fail(command, args)).code;
  }

  close(): void {
    this.socket.end();
  }
}

export function put(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { "content-length": body.length } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}
export function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
    }).on("error", reject);
  });
}

/** store `body` under `key` the way MogileFS clients do: create_open multi_dest=1, PUT path_1, create_close */
export async function store(tr: Tracker, domain: string, key: string, body: Buffer, cls?: string): Promise<{ fid: string; devid: string; path: string }> {
  const open = await tr.ok("create_open", { domain, key, ...(cls ? { class: cls } : {}), multi_dest: 1, size: body.length });
  assert.ok(Number(open.dev_count) >= 1, "dev_count");
  const status = await put(open.path_1, body);
  assert.ok(status >= 200 && status < 300, `PUT ${open.path_1}: ${status}`);
  await tr.ok("create_close", { domain, key, fid: open.fid, devid: open.devid_1, path: open.path_1, size: body.length });
  return { fid: open.fid, devid: open.devid_1, path: open.path_1 };
}
