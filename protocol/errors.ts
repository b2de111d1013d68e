// The one error table: MogileFS error codes, their default texts, and the MogileError class.

export const errorTexts = {
  after_mismatch: "Pattern does not match the after-value?",
  bad_params: "Invalid parameters to command; please see documentation",
  bogus_args: "bogus_args",
  class_exists: "That class already exists in that domain",
  class_not_found: "Class not found",
  db: "Database error",
  domain_exists: "That domain already exists",
  domain_not_found: "Domain not found",
  dup: "Duplicate name/number used.",
  existing_devid: "existing_devid",
  unknown_hostid: "unknown_hostid",
  failure: "Operation failed",
  fid_exists: "fid_exists",
  host_exists: "That host already exists",
  host_not_found: "Host not found",
  invalid_devid: "invalid_devid",
  invalid_destdev: "invalid_destdev",
  invalid_mindevcount: "The mindevcount must be at least 1",
  key_exists: "Target key name already exists; can't overwrite.",
  no_class: "No class provided",
  no_devices: "No devices found to store file",
  no_domain: "No domain provided",
  no_key: "no_key",
  no_temp_file: "No tempfile or file already closed",
  none_match: "No keys match that pattern and after-value (if any).",
  size_mismatch: "size_mismatch",
  size_verify_error: "size_verify_error",
  unknown_command: "Unknown server command",
  unknown_host: "Host not found",
  unknown_key: "unknown_key",
  unreg_class: "unreg_class",
  unreg_domain: "Domain name invalid/not found",
  /** mogile additions (not in MogileFS) */
  bad_request: "Malformed request",
  timeout: "The cluster did not answer in time",
  unavailable: "No tracker is answering",
  upload_failed: "Upload to every candidate device failed",
  read_failed: "No path could be read",
  range_not_satisfiable: "Requested range not satisfiable",
} as const;

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
    case "none_match":
    case "no_temp_file":
      return 404;
    case "domain_exists":
    case "class_exists":
    case "host_exists":
    case "key_exists":
    case "fid_exists":
    case "dup":
      return 409;
    case "no_devices":
    case "unavailable":
    case "upload_failed":
    case "read_failed":
      return 503;
    case "timeout":
      return 504;
    case "range_not_satisfiable":
      return 416;
    case "failure":
    case "db":
      return 500;
    default:
      return 400;
  }
}
