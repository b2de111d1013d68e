// The root `mogile` program: global options, the command groups, help text and the exit-code scheme.
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { DEFAULT_NATS, EXIT, errorLine, int } from "./context.ts";
import { hostCommand } from "./hosts.ts";
import { deviceCommand } from "./devices.ts";
import { classCommand, domainCommand } from "./domains.ts";
import { fileCommands } from "./files.ts";
import { statusCommands } from "./status.ts";
import { keyCommand } from "./keys.ts";
import { explainCommand } from "./explain.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const EPILOG = `
Connection:
  --nats or MOGILE_NATS_URL (default ${DEFAULT_NATS}); MOGILE_DOMAIN sets --domain.
  Credentials: --nkey or MOGILE_NATS_NKEY (a NATS user's seed file); else the local cluster's
  <data dir>/secrets/nats/<user>.nk, data dir from --data-dir or MOGILE_DATA_DIR (default ./var),
  user from --user or MOGILE_NATS_USER (default admin).

Exit codes:
  ${EXIT.ok}  success
  ${EXIT.failed}  the command failed; stderr says "error: <code>: <message>" where <code> is the
     MogileFS error code (unreg_domain, unknown_key, domain_exists, no_devices, …),
     unavailable/timeout when no tracker answers, or an errno code (ENOENT, …) for local files
  ${EXIT.usage}  usage error: unknown command or option, missing or invalid argument

Examples:
  mogile domain add photos && mogile class add photos thumbs --mindevcount 1
  mogile put cat.jpg cats/tom.jpg -d photos --class thumbs
  mogile get cats/tom.jpg tom.jpg -d photos
  mogile ls -d photos --prefix cats/ --json
  mogile explain cats/tom.jpg -d photos
  mogile class modify photos thumbs --mindevcount 3 --dry-run
  mogile check`;

/** Settings every command needs; addCommand() does not inherit them, so they are applied to the tree. */
function configure(cmd: Command): void {
  cmd.exitOverride()
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError("(add --help for usage)");
  for (const sub of cmd.commands) configure(sub);
}

export function buildProgram(): Command {
  const program = new Command("mogile")
    .description("Admin and file tools for a mogile cluster (MogileFS on NATS): mogadm, mogupload, mogfetch, … in one command.")
    .version(version)
    .addOption(new Option("--nats <url>", "NATS server URL(s), comma-separated").env("MOGILE_NATS_URL").default(DEFAULT_NATS))
    .addOption(new Option("--nkey <file>", "the NATS user's nkey seed file").env("MOGILE_NATS_NKEY"))
    .addOption(new Option("--user <name>", "the NATS user to look up in the data dir").env("MOGILE_NATS_USER").default("admin"))
    .addOption(new Option("--data-dir <dir>", "a local cluster's data dir (its secrets/ holds the credentials)").env("MOGILE_DATA_DIR"))
    .option("--json", "print the JSON reply instead of tables (for scripts)")
    .option("--timeout <ms>", "how long to wait for each tracker reply", int(1), 10_000)
    .addHelpText("after", EPILOG);
  for (const c of [hostCommand(), deviceCommand(), domainCommand(), classCommand(), ...statusCommands(), ...fileCommands(), explainCommand(), keyCommand()]) program.addCommand(c);
  configure(program);
  return program;
}

/** Runs the command line; resolves with the exit code (see EPILOG). Failures are printed here. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // commander has already printed its message; --help and --version end with exit code 0
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(errorLine(err) + "\n");
    return EXIT.failed;
  }
}
