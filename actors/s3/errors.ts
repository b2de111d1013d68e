// S3 errors: the code, HTTP status and message an S3 client expects, and the mapping from the
// cluster's MogileFS error codes.
import { MogileError } from "../../protocol/errors.ts";

export class S3Error extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, string> = {}) {
    super(message);
  }
}

export const s3err = {
  accessDenied: (m = "Access Denied") => new S3Error(403, "AccessDenied", m),
  noSuchBucket: (bucket: string) => new S3Error(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket }),
  noSuchKey: (key: string) => new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key }),
  notImplemented: (what: string) => new S3Error(501, "NotImplemented", `${what} is not implemented by mogile`),
  invalidArgument: (m: string) => new S3Error(400, "InvalidArgument", m),
  invalidRequest: (m: string) => new S3Error(400, "InvalidRequest", m),
  malformedXml: (m: string) => new S3Error(400, "MalformedXML", `The XML you provided was not well-formed or did not validate against our published schema: ${m}`),
  invalidBucketName: (b: string) => new S3Error(400, "InvalidBucketName", `The specified bucket is not valid: ${b}`, { BucketName: b }),
  keyTooLong: () => new S3Error(400, "KeyTooLongError", "Your key is too long (mogile keys are at most 255 characters)"),
  missingLength: () => new S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header."),
  tooLarge: (max: number) => new S3Error(400, "EntityTooLarge", `Your proposed upload exceeds the maximum allowed size (${max} bytes)`),
  badDigest: (m = "The Content-MD5 you specified did not match what we received.") => new S3Error(400, "BadDigest", m),
  invalidDigest: () => new S3Error(400, "InvalidDigest", "The Content-MD5 you specified is not valid."),
  preconditionFailed: () => new S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
  invalidRange: (size: number) => new S3Error(416, "InvalidRange", "The requested range is not satisfiable", { ActualObjectSize: String(size) }),
  methodNotAllowed: (m: string) => new S3Error(405, "MethodNotAllowed", `The specified method is not allowed against this resource: ${m}`),
};

/** A cluster error as S3 would say it (`bucket`/`key` name the resource). */
export function fromMogile(err: unknown, bucket?: string, key?: string): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof MogileError) {
    switch (err.code) {
      case "unreg_domain":
      case "domain_not_found": return s3err.noSuchBucket(bucket ?? "");
      case "unknown_key": return key !== undefined ? s3err.noSuchKey(key) : new S3Error(404, "NoSuchKey", err.message);
      case "domain_exists": return new S3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", { BucketName: bucket ?? "" });
      case "domain_has_files": return new S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", { BucketName: bucket ?? "" });
      case "domain_has_classes": return new S3Error(409, "BucketNotEmpty", "The bucket still has classes of its own (delete them first with `mogile class delete`)", { BucketName: bucket ?? "" });
      case "unreg_class":
      case "class_not_found": return new S3Error(400, "InvalidStorageClass", "The storage class you specified is not valid (x-amz-storage-class names a class of the bucket's domain)");
      case "forbidden":
      case "permission_denied": return s3err.accessDenied(err.message);
      case "bogus_args":
      case "bad_args":
      case "bad_params":
      case "bad_request": return s3err.invalidArgument(err.message);
      case "no_devices":
      case "unavailable":
      case "upload_failed":
      case "read_failed": return new S3Error(503, "ServiceUnavailable", err.message);
      case "timeout": return new S3Error(503, "SlowDown", err.message);
      default: return new S3Error(500, "InternalError", `${err.code}: ${err.message}`);
    }
  }
  return new S3Error(500, "InternalError", (err as Error)?.message ?? String(err));
}
