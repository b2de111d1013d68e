// The test runner behind `npm test`: uvu over test/*.test.ts (or the pattern given), then makes
// sure the process ends. A leaked connection or child process must not hold CI until its timeout:
// once the summary is printed, whatever is still open gets a short grace period, is named on
// stderr, child processes are killed, and the process exits with the tests' own exit code.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { parse } from "uvu/parse";
import { run } from "uvu/run";

const GRACE_MS = 15_000;
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pattern = process.argv[2] ?? "\\.test\\.ts$";

const { suites } = await parse("test", pattern, { cwd: root });
await run(suites, { bail: false });

/** this process's children, by scanning /proc (Linux; elsewhere nothing is found) */
function children(): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try { entries = readdirSync("/proc"); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

setTimeout(() => {
  const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles()
    .map((h) => h.constructor?.name ?? "?");
  const kids = children().map((pid) => {
    let cmd = "?";
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ").slice(0, 200); } catch { /* gone */ }
    return { pid, cmd };
  });
  // tsx's own esbuild service (its loader's transform server) is ours, not a test's
  const leaked = kids.filter((k) => !/\/esbuild --service=/.test(k.cmd));
  if (handles.length || leaked.length) {
    process.stderr.write(`\ntest runner: still alive ${GRACE_MS / 1000} s after the last suite; open handles: ${handles.join(", ") || "none"}; ` +
      `child processes: ${leaked.map((k) => `${k.pid} (${k.cmd})`).join(", ") || "none"} (killed). A test leaked them: this is a bug to fix.\n`);
  }
  for (const { pid } of kids) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
  process.exit(process.exitCode ?? 0);
}, GRACE_MS).unref();
