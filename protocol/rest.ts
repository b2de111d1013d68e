// zod schemas of the HTTP facade's own shapes: REST bodies, query strings and replies, and the error
// body. The gateway validates with them and its OpenAPI document is generated from them.
// POST /v1/rpc/{command} needs none of these: it takes and gives the commands' own (schemas.ts, replies.ts).
import { z } from "zod";
import { errorTexts, httpStatus, type ErrorCode } from "./errors.ts";
import {
  CreateClass, CreateDevice, CreateHost, CreateOpen, ListKeys, SetState, SetWeight, UpdateClass, UpdateFileClass, UpdateHost,
  className, domainName, keyName,
} from "./schemas.ts";
import { ClassInfo, ExplainReply, FileInfoReply } from "./replies.ts";

// ---- path parameters ----
export const DomainParam = domainName.describe("domain name");
/** a key may contain `/` (percent-encoded or not: the route takes the rest of the path) */
export const KeyParam = keyName.describe("the file's key; may contain `/` (percent-encode it, or not)");
export const ClassParam = className.describe("class name");
export const HostParam = CreateHost.shape.host.describe("host name");
export const DevidParam = CreateDevice.shape.devid.describe("device id");

// ---- files ----
/** PUT …/files/{key}?class= (the tracker checks the name: an unknown one is `unreg_class`) */
export const PutFileQuery = z.object({ class: CreateOpen.shape.class.describe("the file's class (default: the domain's default class)") });
/** GET/HEAD …/files/{key}?meta or ?explain: JSON about the file instead of its bytes */
export const GetFileQuery = z.object({
  meta: z.string().optional().describe("present (any value, even empty): the file's metadata and copy URLs as JSON instead of its bytes"),
  explain: z.string().optional().describe("present (any value): why each copy is where it is, and whether the file meets its policy (JSON)"),
});
export const ListFilesQuery = z.object({
  prefix: ListKeys.shape.prefix.describe("only keys starting with this"),
  after: ListKeys.shape.after.describe("the page after this key (a previous page's next_after); empty: the first page"),
  limit: z.coerce.number().int().min(1).optional().describe("keys per page (default 1000)"),
});
export const FileMetaReply = FileInfoReply.extend({ paths: z.array(z.string()).describe("URLs of the copies, best first (at most 10)") })
  .describe("a file's fid, class, length, copy count, devids and copy URLs");
/** GET …/files/{key} as JSON: `?meta` or `?explain` */
export const FileJsonReply = z.union([FileMetaReply, ExplainReply]);
export const RenameBody = z.object({ to: keyName.describe("the new key") });
export const RenameReply = z.object({ domain: z.string(), key: z.string().describe("the new key"), from: z.string().describe("the old key") });
export const FileClassBody = UpdateFileClass.omit({ domain: true, key: true });
export const FileClassReply = z.object({ domain: z.string(), key: z.string(), class: z.string() });

// ---- domains, classes, hosts, devices (the URL gives the names; its values win over the body's) ----
export const CreateClassBody = CreateClass.omit({ domain: true });
export const UpdateClassBody = UpdateClass.omit({ domain: true, class: true });
export const DomainClassesReply = z.object({ domain: z.string(), classes: z.array(ClassInfo) });
export const UpdateHostBody = UpdateHost.omit({ host: true });
/** PATCH /v1/devices/{devid}: MogileFS has one command per field, so each present field is one call. */
export const DevicePatch = z.object({ state: SetState.shape.state.optional(), weight: SetWeight.shape.weight.optional() })
  .refine((p) => p.state !== undefined || p.weight !== undefined, "give state and/or weight");
export const HealthReply = z.object({ ok: z.literal(true) }).describe("a tracker answered");

// ---- errors ----
export const Issue = z.object({
  path: z.string().describe("the field, dotted; empty: the whole body"),
  code: z.string().describe("zod's issue code"),
  message: z.string(),
}).describe("one reason a request failed validation");

/** codes the gateway answers with a status other than httpStatus() gives: routes or commands it has not */
const ROUTE_ERRORS: Record<number, readonly string[]> = { 404: ["not_found", "unknown_command"] };

/** The MogileFS codes (and gateway codes) an error reply with `status` may carry. */
export function errorCodes(status: number): string[] {
  const codes = (Object.keys(errorTexts) as ErrorCode[]).filter((c) => httpStatus(c) === status);
  return [...new Set([...codes, ...(ROUTE_ERRORS[status] ?? [])])].sort();
}

/** The error body with `status`: `{"error": "<code>", "message": "…"}`, and `issues` for a validation failure. */
export function errorBody(status: number) {
  return z.object({
    error: z.enum(errorCodes(status) as [string, ...string[]]).describe("the MogileFS error code (protocol/errors.ts)"),
    message: z.string(),
    issues: z.array(Issue).optional().describe("every validation failure (a body, parameter or arguments that did not parse)"),
  });
}
