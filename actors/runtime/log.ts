// Structured logging, injected into every actor: one event per line, as text
// (`ts LEVEL role=… instance=… msg=… k=v…`) or, with MOGILE_LOG_FORMAT=json, one JSON object.

export type Level = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** the lowest level written (MOGILE_LOG_LEVEL, default info) */
  level?: Level;
  /** text for people, json for log shippers (MOGILE_LOG_FORMAT, default text) */
  format?: LogFormat;
  /** where a finished line goes (default: stdout, warn and error to stderr); tests collect lines here */
  write?: (level: Level, line: string) => void;
}

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const isLevel = (s: unknown): s is Level => typeof s === "string" && Object.hasOwn(order, s);
/** names the JSON format owns: a field with one of them is written as `field_<name>` */
const RESERVED = new Set(["ts", "level", "msg"]);

const defaultWrite = (level: Level, line: string) => (level === "error" || level === "warn" ? process.stderr : process.stdout).write(line + "\n");

/** An Error as plain data, stack included (the whole point of logging one); causes follow. */
function errorData(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack) out.stack = err.stack;
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined) out.cause = cause instanceof Error && depth < 3 ? errorData(cause, depth + 1) : String(cause);
  return out;
}

/**
 * JSON that never throws: errors as data (also ours, whose toJSON would hide the stack), bigints as
 * strings, cycles cut (an object met again inside itself; one shared by two fields is written twice).
 */
function toJson(v: unknown): string {
  try {
    return JSON.stringify(plain(v, [])) ?? "null";
  } catch (err) {
    return JSON.stringify(`[unserializable: ${(err as Error).message}]`);
  }
}

function plain(x: unknown, ancestors: object[]): unknown {
  if (x instanceof Error) return errorData(x);
  if (typeof x === "bigint") return x.toString();
  if (typeof x !== "object" || x === null) return x;
  if (ancestors.includes(x)) return "[circular]";
  if (ancestors.length >= 32) return "[too deep]";
  ancestors.push(x);
  try {
    if (Array.isArray(x)) return x.map((e) => plain(e, ancestors));
    const toJSON = (x as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return plain(toJSON.call(x), ancestors);
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(x)) out[k] = plain(e, ancestors);
    return out;
  } finally {
    ancestors.pop();
  }
}

/** One text value: bare when it is a plain token, else JSON-quoted (so a line never breaks). */
function fmt(v: unknown): string {
  if (typeof v === "string") return /^[\w.:/@+-]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  return v === undefined ? "undefined" : toJson(v);
}

/** `k=v`, and for an Error also its code, stack and cause, each escaped onto this one line. */
function textField(k: string, v: unknown): string {
  if (!(v instanceof Error)) return ` ${k}=${fmt(v)}`;
  const d = errorData(v);
  let s = ` ${k}=${fmt(v)}`;
  if (d.code !== undefined) s += ` ${k}.code=${fmt(d.code)}`;
  if (d.stack) s += ` ${k}.stack=${JSON.stringify(d.stack)}`;
  if (d.cause !== undefined) s += ` ${k}.cause=${fmt(typeof d.cause === "object" ? (d.cause as { message?: unknown }).message : d.cause)}`;
  return s;
}

/**
 * A logger whose every line carries `base` (role, instance, …). The second argument is the
 * options, or just the level (as tools and tests pass it); what is not given comes from
 * MOGILE_LOG_LEVEL and MOGILE_LOG_FORMAT.
 */
export function createLogger(base: Record<string, unknown>, options: Level | LoggerOptions = {}): Logger {
  const o: LoggerOptions = typeof options === "string" ? { level: options } : options;
  const envLevel = process.env.MOGILE_LOG_LEVEL;
  const level: Level = o.level ?? (isLevel(envLevel) ? envLevel : "info");
  const format: LogFormat = o.format ?? (process.env.MOGILE_LOG_FORMAT === "json" ? "json" : "text");
  const write = o.write ?? defaultWrite;
  const threshold = order[level] ?? order.info;
  const prefix = Object.entries(base).map(([k, v]) => `${k}=${fmt(v)}`).join(" ");

  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < threshold) return;
    let line: string;
    if (format === "json") {
      const rec: Record<string, unknown> = { ts: new Date().toISOString(), level: lvl };
      for (const [k, v] of Object.entries(base)) rec[RESERVED.has(k) ? `field_${k}` : k] = v;
      rec.msg = msg;
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) rec[RESERVED.has(k) ? `field_${k}` : k] = v;
      line = toJson(rec);
    } else {
      line = `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${prefix} msg=${fmt(msg)}`;
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += textField(k, v);
    }
    write(lvl, line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { level, format, write }),
  };
}
