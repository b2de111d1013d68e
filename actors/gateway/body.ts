// Request-body parsing for the HTTP facade: JSON in, validated by the protocol's zod schemas.
import type { Context } from "hono";
import type { HttpBindings } from "@hono/node-server";
import type { z } from "zod";
import { MogileError, type ErrorCode } from "../../protocol/errors.ts";
import type { Authenticator, Principal } from "./auth.ts";

/** Body limits of the facade (see server.ts for where they come from). */
export interface Limits {
  /** largest file upload (PUT …/files/{key}), streamed */
  maxBodyBytes: number;
  /** largest JSON request body, read into memory */
  maxJsonBytes: number;
}

/**
 * The hono environment of every gateway route: node:http bindings for streaming uploads; the caller
 * and the authenticator (set for every /v1 route by the auth middleware) and the body limits.
 */
export type GatewayEnv = {
  Bindings: HttpBindings;
  Variables: { principal: Principal; auth: Authenticator; limits: Limits };
};

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

export const tooLarge = (max: number) => new MogileError("payload_too_large", `request body is over ${max} bytes`);

/** The body as text, refused (413) past `max` bytes without reading more than that. */
async function readCapped(c: Context<GatewayEnv>, max: number): Promise<string> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > max) throw tooLarge(max);
  const body = c.req.raw.body;
  if (!body) return "";
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  for (let n = 0; ; ) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(max);
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** The body as JSON, at most the configured JSON limit; an empty body is `{}` (commands without arguments need none). */
export async function readJson(c: Context<GatewayEnv>): Promise<unknown> {
  const text = await readCapped(c, c.get("limits").maxJsonBytes);
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
export async function objectBody<S extends z.ZodType>(c: Context<GatewayEnv>, schema: S, fromUrl: Record<string, unknown> = {}): Promise<z.output<S>> {
  const raw = await readJson(c);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new MogileError("bad_request", "request body must be a JSON object");
  return validate(schema, { ...raw, ...fromUrl });
}
