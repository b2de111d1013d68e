// zod validation failures → MogileFS error codes (missing domain → no_domain, and so on).
import type { z } from "zod";
import { MogileError, type ErrorCode } from "../../protocol/errors.ts";

const missing: Record<string, ErrorCode> = { domain: "no_domain", key: "no_key", class: "no_class" };

export function zodToMogile(error: z.ZodError): MogileError {
  const issue = error.issues[0];
  const field = String(issue?.path[0] ?? "");
  const absent = issue?.code === "invalid_type" && /undefined|received undefined/.test(issue.message) || (issue?.code === "too_small" && field in missing);
  if (absent && field in missing) return new MogileError(missing[field]);
  if (field === "mindevcount") return new MogileError("invalid_mindevcount");
  const text = error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; ");
  return new MogileError("bad_params", text);
}
