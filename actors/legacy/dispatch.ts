// One request line → one reply line: the same NATS command the SDK sends, flattened into MogileFS fields.
import { requests, UNSUPPORTED_COMMANDS, type Command } from "../../protocol/schemas.ts";
import { MogileError, classicErrorText, errorTexts } from "../../protocol/errors.ts";
import type { MogileClient } from "../../protocol/client.ts";
import type { Logger } from "../runtime/log.ts";
import { CodecError, decodeArgs, errLine, okLine, parseLine } from "./codec.ts";
import { flatten } from "./format.ts";
import type { PathsCache } from "./paths_cache.ts";

/** mogile-internal commands that classic clients have no business sending (gateway keys stay off the unauthenticated port) */
export const INTERNAL: ReadonlySet<string> = new Set<string>(["register_storage", "key_add", "key_list", "key_revoke", "key_lookup", "key_secret"]);

/** Every command name the classic protocol forwards; anything else is `unknown_command`. */
export const FORWARDED: ReadonlySet<string> = new Set<string>([
  ...Object.keys(requests).filter((c) => !INTERNAL.has(c)),
  ...UNSUPPORTED_COMMANDS,
]);

export interface DispatchOptions {
  client: MogileClient;
  /** how long one command may take over NATS (MogileFS kills a silent query worker after 30 s) */
  timeoutMs: number;
  log: Logger;
  /** classic get_paths answers kept a moment (off when absent) */
  paths?: PathsCache;
}

/** Builds the `answer` function of a connection: never rejects, one CRLF-terminated line or null. */
export function dispatcher(o: DispatchOptions): (line: string) => Promise<string | null> {
  return async (line) => {
    const parsed = parseLine(line);
    switch (parsed.kind) {
      case "empty":
        return null;
      case "admin":
        return errLine("unknown_command", "admin (!) commands are not supported");
      case "malformed":
        return errLine("unknown_command", errorTexts.unknown_command);
    }
    let args;
    try {
      args = decodeArgs(parsed.argstring);
    } catch (err) {
      if (err instanceof CodecError) return errLine("bad_params", err.message);
      throw err;
    }
    const { callid, ...body } = args;
    if (!FORWARDED.has(parsed.command)) return errLine("unknown_command", errorTexts.unknown_command, callid);
    const command = parsed.command as Command;
    const paths = o.paths;
    const slot = paths?.slot(command, body) ?? null;
    if (slot) {
      const hit = paths!.get(slot);
      if (hit !== undefined) return okLine(flatten(command, hit as never, args), callid);
    }
    const token = paths?.begin() ?? 0;
    // what the command may change is dropped before it runs and again once it has
    if (!slot) paths?.forwarded(command, body);
    try {
      // the argstring's strings go as they are: the zod schemas coerce "1"/"0" and numbers
      const reply = await o.client.rpc(command, body as never, o.timeoutMs);
      if (slot) paths!.set(slot, reply, token);
      return okLine(flatten(command, reply, args), callid);
    } catch (err) {
      // MogileFS's own wording: tools and apps match on it
      if (err instanceof MogileError) return errLine(err.code, classicErrorText(err.code, err.message), callid);
      o.log.error("legacy command failed", { command, err });
      return errLine("failure", `${errorTexts.failure}: ${(err as Error)?.message ?? String(err)}`, callid);
    } finally {
      if (!slot) paths?.forwarded(command, body);
    }
  };
}
