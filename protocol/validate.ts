// Request validation shared by every front door (NATS, HTTP rpc, classic protocol): empty
// arguments count as absent, and zod failures become MogileFS error codes (no_domain, …).
import type { z } from "zod";
import { MogileError, type ErrorCode } from "./errors.ts";
import { requests, type Command, type Parsed } from "./schemas.ts";

/** Arguments whose empty value means something (an empty key discards an upload, …). */
const EMPTY_MEANS_EMPTY = new Set(["key", "prefix", "after", "value", "altip", "altmask"]);

/** MogileFS treats an empty argument as absent (classic clients send `limit=`): so do we. */
export function dropEmpty(raw: unknown): unknown {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== "" || EMPTY_MEANS_EMPTY.has(k)) out[k] = v;
  return out;
}

/** Parse a command's arguments, or throw the MogileFS error a MogileFS tracker would give. */
export function parseCommand<C extends Command>(command: C, raw: unknown): Parsed<C> {
  const args = dropEmpty(raw);
  const r = requests[command].safeParse(args);
  if (!r.success) throw zodToMogile(r.error, command, args);
  return r.data as Parsed<C>;
}

/** an absent (or empty) argument */
const missing: Record<string, ErrorCode> = {
  domain: "no_domain", key: "no_key", from_key: "no_key", to_key: "no_key", class: "no_class",
  host: "no_host", ip: "no_ip", port: "no_port", fid: "no_fid", devid: "no_devid", path: "no_path",
};
/** a present but invalid argument */
const invalid: Record<string, ErrorCode> = {
  mindevcount: "invalid_mindevcount", hashtype: "invalid_hashtype", replpolicy: "invalid_replpolicy",
  checksum: "invalid_checksum_format", status: "unknown_state",
};

export function zodToMogile(error: z.ZodError, command = "", raw: unknown = undefined): MogileError {
  const issue = error.issues[0];
  const field = String(issue?.path[0] ?? "");
  const text = error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; ");
  const given = raw && typeof raw === "object" ? (raw as Record<string, unknown>)[field] : undefined;
  // absent, empty, or MogileFS-false ("0" is no domain) counts as not provided
  const absent = given === undefined || given === null || given === "" || (field === "domain" && (given === "0" || given === 0));
  // these commands answer bad_params for any argument problem in MogileFS
  if (["server_setting", "set_server_setting", "set_state", "set_weight"].includes(command)) return new MogileError("bad_params", text);
  // MogileFS quirks: a missing host to delete is an unknown host; a missing class to delete is not found
  if (absent && command === "delete_host" && field === "host") return new MogileError("unknown_host");
  if (absent && command === "delete_class" && field === "class") return new MogileError("class_not_found");
  if (absent && field in missing) return new MogileError(missing[field]);
  if (field === "state") return new MogileError(command.includes("host") ? "unknown_state" : "invalid_state", text);
  if (field === "devid" && command === "create_device") return new MogileError("invalid_devid", text);
  if (field in invalid) return new MogileError(invalid[field], text);
  return new MogileError("bad_params", text);
}
