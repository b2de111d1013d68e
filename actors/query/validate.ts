// zod validation failures → MogileFS error codes (missing domain → no_domain, and so on).
import type { z } from "zod";
import { MogileError, type ErrorCode } from "../../protocol/errors.ts";

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
  if (absent && field in missing) return new MogileError(missing[field]);
  if (field === "state") return new MogileError(command.includes("host") ? "unknown_state" : "invalid_state", text);
  if (field === "devid" && command === "create_device") return new MogileError("invalid_devid", text);
  if (field in invalid) return new MogileError(invalid[field], text);
  return new MogileError("bad_params", text);
}
