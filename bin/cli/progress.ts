// A byte-counting stream with an optional progress bar on stderr, for put and get.
import { Transform } from "node:stream";
import cliProgress from "cli-progress";
import { bytes } from "./context.ts";

/** Files at least this large get a bar by default (when stderr is a terminal). */
export const PROGRESS_THRESHOLD = 4 * 1024 * 1024;

export interface Progress {
  /** pipe the bytes through this; it counts them and moves the bar */
  stream: Transform;
  /** bytes seen so far */
  readonly count: number;
  /** draw the final state and release the terminal */
  stop(): void;
}

/**
 * `wanted`: true = always (even when stderr is not a terminal: one line per update),
 * false = never, undefined = when `total` is known, large, and stderr is a terminal.
 */
export function progress(label: string, total: number | undefined, wanted: boolean | undefined): Progress {
  const show = wanted ?? (total !== undefined && total >= PROGRESS_THRESHOLD && process.stderr.isTTY === true);
  const bar = show ? new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {done} of {size} | {speed}/s | ETA {eta_formatted}`,
    noTTYOutput: true,
    notTTYSchedule: 1000,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic) : undefined;
  const size = total ?? 0;
  const started = Date.now();
  let count = 0;
  const payload = () => ({ done: bytes(count), size: total === undefined ? "?" : bytes(size), speed: bytes(Math.round(count / Math.max((Date.now() - started) / 1000, 0.001))) });
  bar?.start(Math.max(size, 1), 0, payload());
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      count += chunk.length;
      bar?.update(Math.min(count, Math.max(size, 1)), payload());
      done(null, chunk);
    },
  });
  return {
    stream,
    get count() { return count; },
    stop() {
      if (!bar) return;
      bar.update(Math.min(count, Math.max(size, 1)), payload());
      bar.stop();
    },
  };
}
