// sleep (MogileFS): answer after `duration` seconds (10 when absent or 0), capped at MAX_SLEEP_SEC.
// A timer, not a blocked worker: this actor serves every other request meanwhile.
import { setTimeout as delay } from "node:timers/promises";
import type { QueryContext } from "../context.ts";
import { sleepSeconds, type Parsed, type Reply } from "../../../protocol/schemas.ts";

/** A drain ends the wait at once (the answer is the same): a sleep never holds a stop back. */
export async function sleep(ctx: QueryContext, a: Parsed<"sleep">): Promise<Reply<"sleep">> {
  await delay(sleepSeconds(a.duration) * 1000, undefined, { signal: ctx.stopping }).catch(() => {});
  return {};
}
