// Server settings: which keys are writable over the protocol, and how their values are checked.
import { MogileError } from "../../../protocol/errors.ts";

type Parser = (v: string) => string;

const bool: Parser = (v) => {
  const s = v.trim().toLowerCase();
  if (s === "" || s === "0" || s.startsWith("f") || s.startsWith("n") || s === "off") return "0";
  if (s.startsWith("1") || s.startsWith("t") || s.startsWith("y") || s === "on") return "1";
  throw new MogileError("invalid_format", `expected a boolean, got ${v}`);
};
const number: Parser = (v) => {
  if (v === "") return "0";
  if (!/^\d+$/.test(v)) throw new MogileError("invalid_format", `expected digits, got ${v}`);
  return v;
};
const any: Parser = (v) => v;
const fsckChecksum: Parser = (v) => {
  if (v === "class") return "";
  if (["off", "MD5", "SHA-1", "SHA-256"].includes(v)) return v;
  throw new MogileError("invalid_format", "fsck_checksum is off, class, MD5, SHA-1 or SHA-256");
};

const writable: Record<string, Parser> = {
  skip_devcount: bool,
  skip_mkcol: bool,
  case_sensitive_list_keys: bool,
  memcache_servers: any,
  memcache_ttl: number,
  internal_queue_limit: number,
  queue_size_for_fsck: any, queue_rate_for_fsck: any,
  queue_size_for_rebal: any, queue_rate_for_rebal: any,
  queue_size_for_reaper: any, queue_rate_for_reaper: any,
  fsck_checksum: fsckChecksum,
  network_zones: any,
  slave_keys: any,
};

/** The stored form of a setting, or not_writable / invalid_format. */
export function checkSetting(key: string, value: string): string {
  const parse = writable[key] ?? (/^(zone|slave)_\w+$/.test(key) ? any : undefined);
  if (!parse) throw new MogileError("not_writable", `${key} cannot be set over the protocol`);
  return parse(value);
}
