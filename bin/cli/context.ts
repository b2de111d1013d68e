// CLI plumbing shared by every command: global options, the cluster connection, output and errors.
import { InvalidArgumentError, type Command } from "commander";
import Table from "cli-table3";
import { MogileClient, MogileError } from "../../protocol/index.ts";
import { NatsAuthError } from "../../protocol/credentials.ts";

/** The exit-code scheme, printed by `mogile --help`. */
export const EXIT = {
  ok: 0,
  /** the command failed: the cluster (or the SDK) answered with a MogileFS error code, or local I/O failed */
  failed: 1,
  /** the command line was wrong: unknown command or option, missing or invalid argument */
  usage: 2,
} as const;

export const DEFAULT_NATS = "nats://127.0.0.1:4222";

/** Options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  nats: string;
  nkey?: string;
  user: string;
  dataDir?: string;
  json: boolean;
  timeout: number;
}

export interface Ctx {
  client: MogileClient;
  /** `--json`: print the JSON reply instead of a table */
  json: boolean;
}

/** Commander argument parser for whole numbers ≥ `min`. */
export const int = (min = 0) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
  return n;
};

/** Commander argument parser for one of a fixed set of words. */
export const oneOf = (choices: readonly string[]) => (value: string): string => {
  if (!choices.includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}`);
  return value;
};

async function connect(g: GlobalOptions): Promise<MogileClient> {
  try {
    return await MogileClient.connect({ servers: g.nats, timeoutMs: g.timeout, name: "mogile-cli", nkeyFile: g.nkey, user: g.user, dataDir: g.dataDir });
  } catch (err) {
    // a connection failure is not a MogileFS reply, but scripts still get one stable code for it
    const text = (err as Error).message;
    if (err instanceof NatsAuthError) throw new MogileError("permission_denied", text);
    throw new MogileError("unavailable", `cannot reach NATS at ${g.nats}: ${text}`);
  }
}

/**
 * Wraps a command action: connects to the cluster, hands over positional arguments and merged
 * options, and always closes the connection. Errors propagate to main(), which prints them.
 */
export function withClient<O extends object = object>(fn: (ctx: Ctx, opts: O & GlobalOptions, ...args: string[]) => Promise<void>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params.at(-1) as Command;
    const args = params.slice(0, -2) as string[];
    const opts = cmd.optsWithGlobals<O & GlobalOptions>();
    const client = await connect(opts);
    try {
      await fn({ client, json: opts.json === true }, opts, ...args);
    } finally {
      await client.close().catch(() => {});
    }
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

type Cell = string | number | boolean | null | undefined;
const cell = (v: Cell): string => (v === null || v === undefined || v === "" ? "-" : String(v));
// plain aligned columns like `kubectl get`: no colours and no rules, so output reads the same in a
// terminal, a pipe and a test, and every row stays one greppable line
const style = { head: [] as string[], border: [] as string[], "padding-left": 0, "padding-right": 0 };
const chars = {
  top: "", "top-mid": "", "top-left": "", "top-right": "", bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "", middle: "  ",
};

/** A table with a header row. */
export function printTable(head: string[], rows: Cell[][]): void {
  const t = new Table({ head: head.map((h) => h.toUpperCase()), style, chars });
  for (const r of rows) t.push(r.map(cell));
  write(t);
}

/** A two-column name/value table, for single records. */
export function printRecord(rows: [string, Cell][]): void {
  const t = new Table({ style, chars });
  for (const [k, v] of rows) t.push([k, cell(v)]);
  write(t);
}

function write(t: Table.Table): void {
  process.stdout.write(t.toString().split("\n").map((l) => l.trimEnd()).join("\n") + "\n");
}

/** Human-readable byte count. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** The one line printed for a failure: `error: <code>: <message>`. */
export function errorLine(err: unknown): string {
  if (err instanceof MogileError) return `error: ${err.code}: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  return `error: ${e?.code ?? "failure"}: ${e?.message ?? String(err)}`;
}
