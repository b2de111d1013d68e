// sleep (MogileFS): answer after `duration` seconds (10 when absent or 0), capped at MAX_SLEEP_SEC.
// A timer, not a blocked worker: this actor serves every other request meanwhile.
import { setTimeout as delay } from "node:timers/promises";
import type { QueryContext } from "../context.ts";
import { MAX_SLEEP_SEC, type Parsed, type Reply } from "../../../protocol/schemas.ts";

/**
 * The seconds a `sleep` waits. MogileFS has no cap, but its watchdog kills a query worker silent
 * for 30 s (and runs the query again), so a longer sleep never answered there either.
 */
export const sleepSeconds = (duration: number | undefined): number => Math.min(duration || 10, MAX_SLEEP_SEC);

export async function sleep(_ctx: QueryContext, a: Parsed<"sleep">): Promise<Reply<"sleep">> {
  await delay(sleepSeconds(a.duration) * 1000);
  return {};
}
