// The classic tracker wire format (MOGILEFS-PROTOCOL.md §1): URL-encoded argstrings, request lines, reply lines.

/** A decoded argstring: argument name → value (null prototype, so `__proto__=x` is just a name). */
export type Args = Record<string, string>;
/** Reply fields before encoding: null and undefined are sent as `key=` (§1.3). */
export type Fields = Record<string, string | number | boolean | null | undefined>;

export class CodecError extends Error {
  override name = "CodecError";
}

// bytes that pass through the encoder unchanged: A–Z a–z 0–9 _ , - . / \ : and space (which becomes +)
const SAFE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_,-./\\: ") SAFE[c.charCodeAt(0)] = 1;
const HEX = "0123456789ABCDEF";

/** Encode one name or value: UTF-8 bytes outside the safe set become `%XX` (uppercase), space becomes `+`. */
export function encode(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    if (b === 0x20) out += "+";
    else if (SAFE[b]) out += String.fromCharCode(b);
    else out += "%" + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const hexValue = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/**
 * Decode one name or value: `+` → space, then `%XX` (either case). The input is a byte string (one
 * char per byte, as read off the socket in latin1); the decoded bytes must be UTF-8, the encoding every
 * other mogile interface uses for keys. Stricter than Perl, which leaves a stray `%` as is: no
 * conforming encoder produces one, so it is reported rather than guessed at.
 */
export function decode(s: string): string {
  if (/^[\x00-\x7f]*$/.test(s) && !s.includes("%")) return s.replaceAll("+", " ");
  const bytes = new Uint8Array(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(s.charCodeAt(i + 1)), lo = hexValue(s.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw new CodecError(`invalid percent-escape ${JSON.stringify(s.slice(i, i + 3))}`);
      bytes[n++] = hi * 16 + lo;
      i += 2;
    } else if (c > 0xff) {
      throw new CodecError("argument is not a byte string");
    } else bytes[n++] = c === 0x2b ? 0x20 : c;
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new CodecError("argument is not valid UTF-8 after decoding");
  }
}

/**
 * Decode an argstring per §1.2: split on `&`; drop empty pairs and a pair that is literally `0`;
 * keep the first two `=` pieces; a bare name gets `""`; repeated names are joined with NUL.
 */
export function decodeArgs(argstring: string): Args {
  const args: Args = Object.create(null) as Args;
  for (const pair of argstring.split("&")) {
    if (pair === "" || pair === "0") continue;
    const [rawName, rawValue = ""] = pair.split("=", 2);
    const name = decode(rawName);
    const value = decode(rawValue);
    args[name] = Object.hasOwn(args, name) ? `${args[name]}\0${value}` : value;
  }
  return args;
}

function scalar(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "1" : "0";
  return String(v);
}

/** Encode reply fields in insertion order: `a=1&b=x+y`. */
export function encodeArgs(fields: Fields): string {
  return Object.entries(fields).map(([k, v]) => `${encode(k)}=${encode(scalar(v))}`).join("&");
}

export type ParsedLine =
  | { kind: "empty" }
  | { kind: "admin"; text: string }
  | { kind: "request"; command: string; argstring: string }
  | { kind: "malformed" };

/** Split one line (without its LF) into a lowercased command and its argstring (§1.1). */
export function parseLine(raw: string): ParsedLine {
  const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (line.trim() === "") return { kind: "empty" };
  if (line.startsWith("!")) return { kind: "admin", text: line.slice(1) };
  // `command SP argstring`; the space is optional when there are no args
  const m = /^([A-Za-z0-9_]+)(?:[ \t]+(.*))?$/s.exec(line);
  if (!m) return { kind: "malformed" };
  return { kind: "request", command: m[1].toLowerCase(), argstring: (m[2] ?? "").trim() };
}

/** `OK <args>[&callid=X]\r\n`; an empty result is `OK \r\n`. */
export function okLine(fields: Fields, callid?: string): string {
  const all = callid === undefined ? fields : { ...fields, callid };
  return `OK ${encodeArgs(all)}\r\n`;
}

/** `ERR <code> <urlencoded text>[ <urlencoded callid>]\r\n`; text defaults to the code itself (§1.3). */
export function errLine(code: string, text: string, callid?: string): string {
  return `ERR ${code} ${encode(text || code)}${callid === undefined ? "" : " " + encode(callid)}\r\n`;
}
