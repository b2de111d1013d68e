// aws-chunked request bodies for the S3 API (sigv4.ts parses and verifies the request's own
// signature): decode the framing as it streams, check each chunk's signature, the decoded length
// and the checksum trailers. Limits: crc32c and crc64nvme trailers are accepted unchecked (no
// native implementation in node); crc32, sha1 and sha256 trailers are checked.
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { crc32 } from "node:zlib";
import {
  hmac, sameHex, sha256Hex, HEX64, EMPTY_SHA256, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER, SigV4Error,
} from "./sigv4.ts";

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

type Checksum = { update(b: Buffer): void; base64(): string };

function checksumFor(algorithm: string): Checksum | null {
  if (algorithm === "crc32") {
    let crc = 0;
    return {
      update: (b) => { crc = crc32(b, crc); },
      base64: () => { const out = Buffer.alloc(4); out.writeUInt32BE(crc >>> 0); return out.toString("base64"); },
    };
  }
  if (algorithm === "sha1" || algorithm === "sha256") {
    const h: Hash = createHash(algorithm);
    return { update: (b) => { h.update(b); }, base64: () => h.digest("base64") };
  }
  return null; // crc32c, crc64nvme: not verified
}

export interface ChunkedDecoderOptions {
  /** the x-amz-content-sha256 value: one of the three STREAMING-* modes */
  mode: string;
  /** signed modes: from verify() */
  signingKey?: Buffer;
  seedSignature?: string;
  amzDate?: string;
  scope?: string;
  /** x-amz-decoded-content-length: the decoded body must have exactly this many bytes */
  decodedLength?: number;
  /**
   * trailer modes: the x-amz-trailer header (e.g. "x-amz-checksum-crc32"). When given, only that
   * checksum is computed and the trailer must arrive; when absent, crc32, sha1 and sha256 are all
   * computed so whichever checksum trailer arrives can be checked.
   */
  trailer?: string;
}

export type ChunkedDecoder = Transform & {
  /** the trailers received (lowercase names, x-amz-trailer-signature left out), once the body has ended */
  readonly trailers: Readonly<Record<string, string>>;
  /** decoded bytes so far */
  readonly decodedBytes: number;
};

/**
 * A Transform decoding an aws-chunked body:
 *   hex-size[;chunk-signature=sig]\r\n <data> \r\n ... 0[;chunk-signature=sig]\r\n [trailer lines\r\n] \r\n
 * Data is passed on as it arrives (one chunk is never buffered); a chunk's signature is checked when
 * its last byte has arrived, so bytes of a bad chunk may already have been pushed: the caller must
 * discard the whole upload on error. Errors (SigV4Error): SignatureDoesNotMatch (a chunk or trailer
 * signature, or a missing one in signed modes), BadDigest (checksum trailer), IncompleteBody (early
 * end, decoded length), InvalidRequest (framing).
 * In STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER the trailer signature is checked: HMAC over
 * "AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" + final chunk signature + "\n" +
 * sha256hex of the trailer lines as "name:value\n" in the order received.
 * The empty line ending the trailers may be missing at the very end of the body (some clients).
 */
export function chunkedDecoder(o: ChunkedDecoderOptions): ChunkedDecoder {
  return new AwsChunkedDecoder(o);
}

class AwsChunkedDecoder extends Transform {
  private readonly signed: boolean;
  private readonly hasTrailer: boolean;
  private state: "head" | "data" | "dataEnd" | "trailer" | "done" = "head";
  private line: Buffer[] = [];
  private lineBytes = 0;
  private trailerBytes = 0;
  private remaining = 0;
  private crlfSeen = 0;
  private chunkSignature = "";
  private chunkHash: Hash | null = null;
  private previousSignature: string;
  private total = 0;
  private readonly checksums = new Map<string, Checksum>();
  private readonly received: [string, string][] = [];
  private trailerSignature: string | undefined;
  trailers: Readonly<Record<string, string>> = {};

  constructor(private readonly o: ChunkedDecoderOptions) {
    super();
    this.signed = o.mode === STREAMING_SIGNED || o.mode === STREAMING_SIGNED_TRAILER;
    this.hasTrailer = o.mode === STREAMING_SIGNED_TRAILER || o.mode === STREAMING_UNSIGNED_TRAILER;
    if (!this.signed && o.mode !== STREAMING_UNSIGNED_TRAILER) throw new SigV4Error("InvalidArgument", `unsupported aws-chunked mode ${o.mode}`);
    if (this.signed && !(o.signingKey && o.seedSignature && o.amzDate && o.scope)) {
      throw new TypeError("chunkedDecoder: signed modes need signingKey, seedSignature, amzDate and scope");
    }
    this.previousSignature = o.seedSignature ?? "";
    if (this.hasTrailer) {
      const declared = o.trailer?.trim().toLowerCase();
      const algorithms = declared ? [declared.replace(/^x-amz-checksum-/, "")] : ["crc32", "sha1", "sha256"];
      for (const a of algorithms) {
        const c = checksumFor(a);
        if (c) this.checksums.set(`x-amz-checksum-${a}`, c);
      }
    }
  }

  get decodedBytes(): number {
    return this.total;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      // tolerated: the body ends right after the last trailer line, without the final empty line
      if (this.state === "trailer" && this.lineBytes === 0 && this.received.length > 0) this.endTrailers();
      if (this.state !== "done") throw new SigV4Error("IncompleteBody", "the aws-chunked body ended before its final chunk");
      if (this.o.decodedLength !== undefined && this.total !== this.o.decodedLength) {
        throw new SigV4Error("IncompleteBody", `the body has ${this.total} bytes, x-amz-decoded-content-length says ${this.o.decodedLength}`);
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private consume(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case "head":
        case "trailer": {
          const nl = chunk.indexOf(0x0a, i);
          const end = nl === -1 ? chunk.length : nl + 1;
          this.line.push(chunk.subarray(i, end));
          this.lineBytes += end - i;
          if (this.state === "head" && this.lineBytes > MAX_CHUNK_LINE) throw this.framing("chunk header line too long");
          if (this.state === "trailer" && this.trailerBytes + this.lineBytes > MAX_TRAILER_BYTES) throw this.framing("trailers too long");
          i = end;
          if (nl !== -1) {
            const line = Buffer.concat(this.line).toString("latin1");
            this.trailerBytes += this.lineBytes;
            this.line = [];
            this.lineBytes = 0;
            if (!line.endsWith("\r\n")) throw this.framing("lines must end with CRLF");
            if (this.state === "head") this.chunkHeader(line.slice(0, -2));
            else this.trailerLine(line.slice(0, -2));
          }
          break;
        }
        case "data": {
          const n = Math.min(this.remaining, chunk.length - i);
          const data = chunk.subarray(i, i + n);
          this.chunkHash?.update(data);
          for (const c of this.checksums.values()) c.update(data);
          this.push(data);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) {
            this.endChunk();
            this.state = "dataEnd";
            this.crlfSeen = 0;
          }
          break;
        }
        case "dataEnd": {
          if (chunk[i] !== (this.crlfSeen === 0 ? 0x0d : 0x0a)) throw this.framing("chunk data must be followed by CRLF");
          i++;
          if (++this.crlfSeen === 2) this.state = "head";
          break;
        }
        case "done":
          throw this.framing("data after the end of the aws-chunked body");
      }
    }
  }

  private framing(m: string): SigV4Error {
    return new SigV4Error("InvalidRequest", `malformed aws-chunked body: ${m}`);
  }

  private chunkHeader(line: string): void {
    const [size, ...extensions] = line.split(";");
    if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw this.framing(`bad chunk size "${size.slice(0, 40)}"`);
    this.chunkSignature = "";
    for (const ext of extensions) {
      const eq = ext.indexOf("=");
      if (eq !== -1 && ext.slice(0, eq).trim() === "chunk-signature") this.chunkSignature = ext.slice(eq + 1).trim();
    }
    if (this.signed && !HEX64.test(this.chunkSignature)) throw new SigV4Error("SignatureDoesNotMatch", "an aws-chunked chunk has no valid chunk-signature");
    this.remaining = parseInt(size, 16);
    this.total += this.remaining;
    if (this.o.decodedLength !== undefined && this.total > this.o.decodedLength) {
      throw new SigV4Error("IncompleteBody", `the body is longer than x-amz-decoded-content-length ${this.o.decodedLength}`);
    }
    this.chunkHash = this.signed ? createHash("sha256") : null;
    if (this.remaining > 0) {
      this.state = "data";
    } else {
      // the final chunk: no data, then trailers (if any) and an empty line
      this.endChunk();
      this.state = "trailer";
      this.trailerBytes = 0;
    }
  }

  private endChunk(): void {
    if (!this.signed || !this.chunkHash) return;
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${this.o.amzDate}\n${this.o.scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${this.chunkHash.digest("hex")}`;
    const expected = hmac(this.o.signingKey!, toSign).toString("hex");
    if (!sameHex(expected, this.chunkSignature)) throw new SigV4Error("SignatureDoesNotMatch", "an aws-chunked chunk signature does not match");
    this.previousSignature = expected;
    this.chunkHash = null;
  }

  private trailerLine(line: string): void {
    if (line === "") return this.endTrailers();
    if (!this.hasTrailer) throw this.framing("trailers are only allowed in the *-TRAILER modes");
    const colon = line.indexOf(":");
    if (colon <= 0) throw this.framing("a trailer line is not name:value");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "x-amz-trailer-signature") this.trailerSignature = value;
    else this.received.push([name, value]);
  }

  private endTrailers(): void {
    this.state = "done";
    this.trailers = Object.fromEntries(this.received);
    if (this.o.mode === STREAMING_SIGNED_TRAILER && this.received.length > 0) {
      const canonical = this.received.map(([k, v]) => `${k}:${v}\n`).join("");
      const toSign = `AWS4-HMAC-SHA256-TRAILER\n${this.o.amzDate}\n${this.o.scope}\n${this.previousSignature}\n${sha256Hex(canonical)}`;
      const expected = hmac(this.o.signingKey!, toSign).toString("hex");
      if (!this.trailerSignature || !sameHex(expected, this.trailerSignature)) {
        throw new SigV4Error("SignatureDoesNotMatch", "the aws-chunked trailer signature does not match");
      }
    }
    const declared = this.o.trailer?.trim().toLowerCase();
    if (declared && !Object.hasOwn(this.trailers, declared)) throw new SigV4Error("InvalidRequest", `the declared trailer ${declared} did not arrive`);
    for (const [name, value] of this.received) {
      const c = this.checksums.get(name);
      if (c && c.base64() !== value) throw new SigV4Error("BadDigest", `The ${name.slice("x-amz-checksum-".length).toUpperCase()} you specified did not match the calculated checksum.`);
    }
  }
}
