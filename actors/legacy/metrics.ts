// Classic-protocol metrics: commands answered, errors by code, and time to the reply line, around the
// connection's `answer` function (labels bounded: a command mogile does not forward counts as "unknown").
import { counter, histogram, LATENCY_BUCKETS } from "../runtime/metrics.ts";
import { FORWARDED } from "./dispatch.ts";

const requests = counter({ name: "mogile_legacy_requests_total", help: "Classic tracker protocol commands answered (OK or ERR)", labelNames: ["command"] as const });
const errors = counter({ name: "mogile_legacy_errors_total", help: "Classic tracker protocol commands answered ERR, by error code", labelNames: ["command", "code"] as const });
const duration = histogram({ name: "mogile_legacy_request_duration_seconds", help: "Time from a request line to its reply line", labelNames: ["command"] as const, buckets: LATENCY_BUCKETS });

const bound = new Map<string, { req: ReturnType<typeof requests.labels>; dur: ReturnType<typeof duration.labels> }>();
const boundOf = (command: string) => {
  let b = bound.get(command);
  if (!b) bound.set(command, (b = { req: requests.labels(command), dur: duration.labels(command) }));
  return b;
};

/** The command word of a request line, lower-cased as the dispatcher reads it; "unknown" if not forwarded. */
function commandOf(line: string): string {
  const m = /^\s*([A-Za-z0-9_]+)/.exec(line);
  const c = m ? m[1].toLowerCase() : "";
  return FORWARDED.has(c) ? c : "unknown";
}

/** Wrap a connection's answer function so every reply line is counted and timed. */
export function measured(answer: (line: string) => Promise<string | null>): (line: string) => Promise<string | null> {
  return async (line) => {
    const t0 = performance.now();
    const reply = await answer(line);
    if (reply === null) return reply; // an empty line: no reply, nothing to count
    const command = commandOf(line);
    const b = boundOf(command);
    b.req.inc();
    b.dur.observe((performance.now() - t0) / 1000);
    if (reply.startsWith("ERR ")) {
      const end = reply.indexOf(" ", 4);
      errors.inc({ command, code: reply.slice(4, end < 0 ? undefined : end) });
    }
    return reply;
  };
}
