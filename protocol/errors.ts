// The one error table: MogileFS error codes, their default texts, and the MogileError class.

/**
 * MogileFS's codes with the text its tracker sends when the call site gives none (Worker/Query.pm
 * err_line); a code without a default text is sent as its own text.
 */
const mogilefsTexts = {
  after_mismatch: "Pattern does not match the after-value?",
  bad_rebal_pol: "bad_rebal_pol",
  bad_args: "bad_args",
  bad_params: "Invalid parameters to command; please see documentation",
  bogus_args: "bogus_args",
  checksum_mismatch: "checksum_mismatch",
  class_exists: "That class already exists in that domain",
  class_has_files: "Class still has files, unable to delete",
  class_not_found: "Class not found",
  db: "Database error",
  domain_exists: "That domain already exists",
  domain_has_classes: "domain_has_classes",
  domain_has_files: "Domain still has files, unable to delete",
  domain_not_found: "Domain not found",
  dup: "Duplicate name/number used.",
  existing_devid: "existing_devid",
  failure: "Operation failed",
  fid_exists: "fid_exists",
  fid_in_use: "fid_in_use",
  fsck_running: "fsck is already running",
  host_exists: "That host already exists",
  host_mismatch: "The device specified doesn't belong to the host specified",
  host_not_empty: "Unable to delete host; it contains devices still",
  host_not_found: "Host not found",
  invalid_checksum_format: "invalid_checksum_format",
  invalid_destdev: "invalid_destdev",
  invalid_devid: "invalid_devid",
  invalid_format: "invalid_format",
  invalid_hashtype: "invalid_hashtype",
  invalid_key: "invalid_key",
  invalid_mindevcount: "The mindevcount must be at least 1",
  invalid_replpolicy: "invalid_replpolicy",
  invalid_state: "invalid_state",
  key_exists: "Target key name already exists; can't overwrite.",
  no_class: "No class provided",
  no_device: "Device not found",
  no_devices: "No devices found to store file",
  no_devid: "no_devid",
  no_domain: "No domain provided",
  no_fid: "no_fid",
  no_host: "No host provided",
  no_ip: "IP required to create host",
  no_key: "no_key",
  no_path: "no_path",
  no_port: "Port required to create host",
  no_rebal_policy: "No rebalance policy available",
  no_rebal_state: "No available rebalance status",
  no_set_rebal: "cannot change rebalance policy while rebalance is running",
  no_temp_file: "No tempfile or file already closed",
  nodel_default_class: "Cannot delete the default class",
  none_match: "No keys match that pattern and after-value (if any).",
  not_writable: "not_writable",
  rebal_not_started: "Rebalance not running",
  rebal_running: "rebalance is running",
  size_mismatch: "size_mismatch",
  size_verify_error: "size_verify_error",
  state_too_high: "Status cannot go from dead to alive; must use down",
  unknown_command: "Unknown server command",
  unknown_fid: "unknown_fid",
  unknown_host: "Host not found",
  unknown_hostid: "unknown_hostid",
  unknown_key: "unknown_key",
  unknown_state: "Invalid/unknown state",
  unreg_class: "unreg_class",
  unreg_domain: "Domain name invalid/not found",
} as const;

/** mogile's own codes (not in MogileFS) */
const mogileTexts = {
  unsupported_command: "This command is not supported yet",
  bad_request: "Malformed request",
  timeout: "The cluster did not answer in time",
  unavailable: "No tracker is answering",
  upload_failed: "Upload to every candidate device failed",
  read_failed: "No path could be read",
  range_not_satisfiable: "Requested range not satisfiable",
  /** create_close: the file IS linked, but its durable copies did not appear in time */
  replication_timeout: "File stored, but not replicated to the requested copies in time",
  /** gateway: no key, or a key that is unknown, revoked or has another secret */
  unauthorized: "A valid key is required",
  /** gateway: a valid key without the scope this request needs */
  forbidden: "This key may not do that",
  /** gateway: a request body over the configured limit */
  payload_too_large: "Request body too large",
  /** key_revoke / key_lookup: no key with that access key id */
  unknown_access_key: "No key with that access key id",
  /** NATS refused the command: this client's user may not call it */
  permission_denied: "This user may not call that command",
} as const;

export const errorTexts = { ...mogilefsTexts, ...mogileTexts } as const;

export type ErrorCode = keyof typeof errorTexts;

export class MogileError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string) {
    super(message ?? errorTexts[code] ?? code);
    this.name = "MogileError";
    this.code = code;
  }
  toJSON(): { error: ErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(errorTexts, s);
}

/** MogileFS codes whose text its tracker makes at the call site (sizes, paths, parse errors): ours follow that form */
const CALL_SITE_TEXTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "size_mismatch", "size_verify_error", "checksum_mismatch", "invalid_destdev", "bad_args", "bad_rebal_pol",
  "invalid_format", "invalid_replpolicy", "fsck_running", "rebal_running", "no_set_rebal", "failure",
]);

/**
 * The text the classic protocol sends with a code: MogileFS's own, since tools and apps match on
 * it (`ERR unreg_domain Domain+name+invalid/not+found`, `ERR unknown_key unknown_key`). Codes that
 * MogileFS words at the call site keep our message, which follows its wording; mogile's own codes
 * keep theirs. The SDK and HTTP keep the more specific message.
 */
export function classicErrorText(code: ErrorCode, message: string): string {
  if (!Object.hasOwn(mogilefsTexts, code) || CALL_SITE_TEXTS.has(code)) return message || code;
  return mogilefsTexts[code as keyof typeof mogilefsTexts];
}

/** The HTTP status for a MogileFS error code; the gateway's only mapping. */
export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case "unknown_key":
    case "unreg_domain":
    case "unreg_class":
    case "domain_not_found":
    case "class_not_found":
    case "host_not_found":
    case "unknown_host":
    case "unknown_hostid":
    case "unknown_fid":
    case "no_device":
    case "none_match":
    case "no_temp_file":
    case "unknown_access_key":
      return 404;
    case "domain_exists":
    case "class_exists":
    case "host_exists":
    case "key_exists":
    case "fid_exists":
    case "fid_in_use":
    case "existing_devid":
    case "domain_has_files":
    case "domain_has_classes":
    case "class_has_files":
    case "host_not_empty":
    case "dup":
    case "fsck_running":
    case "rebal_running":
    case "no_set_rebal":
      return 409;
    case "no_devices":
    case "unavailable":
    case "upload_failed":
    case "read_failed":
      return 503;
    case "timeout":
    case "replication_timeout":
      return 504;
    case "range_not_satisfiable":
      return 416;
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "payload_too_large":
      return 413;
    case "permission_denied":
      return 403;
    case "failure":
    case "db":
      return 500;
    case "unsupported_command":
    case "unknown_command":
      return 501;
    default:
      return 400;
  }
}
