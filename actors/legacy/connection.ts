// One classic-protocol client connection: splits lines, answers them one at a time in order, closes cleanly.
import type { Socket } from "node:net";
import type { Logger } from "../runtime/log.ts";
import { errLine } from "./codec.ts";

export interface ConnectionOptions {
  /** longest line accepted, in bytes; a longer one is answered with ERR and the connection closed */
  maxLineBytes: number;
  /** lines read ahead of the one being answered before the socket stops reading */
  maxQueued: number;
  /** a reply nobody reads for this long drops the connection (MogileFS: 120 s) */
  writeTimeoutMs: number;
  /** a connection silent this long with nothing left to answer is closed (an abandoned client holds a slot) */
  idleMs: number;
  /** the reply line for one request line (CRLF included), or null for lines that get none; never rejects */
  answer(line: string): Promise<string | null>;
  log: Logger;
}

type Item = { line: string } | { fatal: string };

/** How long a closing connection keeps discarding input while waiting for the peer to hang up. */
const LINGER_MS = 2_000;

export class LegacyConnection {
  private buf = "";
  private readonly queue: Item[] = [];
  private busy = false;
  /** false once input is being discarded (after a fatal line, or while the actor stops) */
  private reading = true;
  private peerEnded = false;
  private ending = false;
  readonly closed: Promise<void>;

  constructor(private readonly socket: Socket, private readonly o: ConnectionOptions) {
    // latin1 keeps one char per byte: the codec decodes %XX and raw bytes to UTF-8 itself
    socket.setEncoding("latin1");
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("end", () => { this.peerEnded = true; this.endIfIdle(); });
    // resets and broken pipes are normal for a network server: the connection just goes away
    socket.on("error", (err) => o.log.debug("legacy connection error", { err, remote: socket.remoteAddress }));
    socket.once("close", () => { this.queue.length = 0; });
    // the socket's inactivity timer restarts on every byte either way; a command still being answered is not idle
    socket.setTimeout(o.idleMs);
    socket.on("timeout", () => {
      if (this.ending) return;
      // re-arm: the reply normally restarts the timer, but a request with no reply line would not
      if (this.busy || this.queue.length) return void socket.setTimeout(o.idleMs);
      o.log.debug("legacy connection idle; closing it", { remote: socket.remoteAddress, idleMs: o.idleMs });
      this.drain();
    });
  }

  /** Stop reading new requests; answer the ones already received, then close. */
  drain(): void {
    this.reading = false;
    this.buf = "";
    if (this.socket.isPaused()) this.socket.resume(); // keep discarding so the close is not a reset
    this.endIfIdle();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    if (!this.reading) return;
    this.buf += chunk;
    let start = 0;
    for (let nl = this.buf.indexOf("\n"); nl >= 0; nl = this.buf.indexOf("\n", start)) {
      if (nl - start > this.o.maxLineBytes) return this.fatal();
      this.queue.push({ line: this.buf.slice(start, nl) });
      start = nl + 1;
    }
    this.buf = start ? this.buf.slice(start) : this.buf;
    if (this.buf.length > this.o.maxLineBytes) return this.fatal();
    if (this.queue.length >= this.o.maxQueued) this.socket.pause();
    void this.pump();
  }

  /** An over-long line: everything before it is still answered, then ERR, then close. */
  private fatal(): void {
    this.reading = false;
    this.buf = "";
    if (this.socket.isPaused()) this.socket.resume(); // discard the rest, so our close is not a reset
    this.queue.push({ fatal: errLine("bad_params", "line too long") });
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.socket.destroyed) {
        const item = this.queue.shift()!;
        if (this.reading && this.socket.isPaused() && this.queue.length < this.o.maxQueued / 2) this.socket.resume();
        if ("fatal" in item) {
          this.queue.length = 0;
          await this.write(item.fatal);
          break;
        }
        const reply = await this.o.answer(item.line);
        if (reply !== null) await this.write(reply);
      }
    } finally {
      this.busy = false;
    }
    this.endIfIdle();
  }

  /** Write one reply, waiting while the client is not reading (up to writeTimeoutMs). */
  private async write(text: string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.write(text, "utf8")) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.o.log.warn("legacy client not reading replies; dropping it", { remote: this.socket.remoteAddress });
        this.socket.destroy();
      }, this.o.writeTimeoutMs);
      const settle = () => { clearTimeout(t); this.socket.off("drain", settle); this.socket.off("close", settle); resolve(); };
      this.socket.once("drain", settle);
      this.socket.once("close", settle);
    });
  }

  /** Close our side once nothing is left to answer and no more requests can come. */
  private endIfIdle(): void {
    if (this.ending || this.busy || this.queue.length) return;
    if (this.reading && !this.peerEnded) return;
    this.ending = true;
    this.socket.end();
    // the peer normally hangs up at once; one that does not is cut off after a short linger
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }
}
