// Request-body parsing for the HTTP facade: JSON in, validated by the protocol's zod schemas.
import type { Context } from "hono";
import type { HttpBindings } from "@hono/node-server";
import type { z } from "zod";
import { MogileError, type ErrorCode } from "../../protocol/errors.ts";

/** The hono environment of every gateway route (node:http bindings for streaming uploads). */
export type GatewayEnv = { Bindings: HttpBindings };

export interface Issue { path: string; code: string; message: string }

/** A zod failure: `bad_request` (or the MogileFS code a tracker gives), whose JSON lists every issue. */
export class ValidationError extends MogileError {
  constructor(readonly issues: Issue[], code: ErrorCode = "bad_request", message?: string) {
    super(code, message ?? issues.map((i) => `${i.path || "body"}: ${i.message}`).join("; "));
  }
  override toJSON() {
    return { ...super.toJSON(), issues: this.issues };
  }
}

/** The body as JSON; an empty body is `{}` (commands without arguments need none). */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new MogileError("bad_request", "request body is not valid JSON");
  }
}

/** Validates `value` with `schema`, throwing ValidationError with every issue. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ValidationError(r.error.issues.map((i) => ({ path: i.path.map(String).join("."), code: i.code, message: i.message })));
  }
  return r.data;
}

/** The JSON body as an object, merged with fields from the URL (which win), then validated. */
export async function objectBody<S extends z.ZodType>(c: Context, schema: S, fromUrl: Record<string, unknown> = {}): Promise<z.output<S>> {
  const raw = await readJson(c);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new MogileError("bad_request", "request body must be a JSON object");
  return validate(schema, { ...raw, ...fromUrl });
}
