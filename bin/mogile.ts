#!/usr/bin/env -S node --import tsx
// The `mogile` command line: admin and file tools for a mogile cluster (`mogile --help`).
import { main } from "./cli/program.ts";

// `mogile ls | head` closes stdout early: that is not a failure
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const code = await main(process.argv);
// the SDK keeps HTTP sockets alive for reuse: flush stdout, then exit without waiting for them
process.stdout.write("", () => process.exit(code));
