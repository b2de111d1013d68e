// S3 API metrics: requests by S3 operation and status, and their duration (body included). The
// operation is named the way AWS names it, from the same method/bucket/key/sub-resource routing.
import { counter, histogram, TRANSFER_BUCKETS } from "../runtime/metrics.ts";
import type { S3Request } from "./request.ts";

const requests = counter({ name: "mogile_s3_requests_total", help: "S3 API requests answered, by operation and HTTP status", labelNames: ["operation", "status"] as const });
const duration = histogram({ name: "mogile_s3_request_duration_seconds", help: "Time from an S3 request's arrival until it was handled (body included)", labelNames: ["operation"] as const, buckets: TRANSFER_BUCKETS });

/** The S3 operation a request was routed to (see server.ts `handle`); "Other" for what no route takes. */
export function s3Operation(r: Pick<S3Request, "method" | "bucket" | "key" | "query" | "req">): string {
  const q = r.query;
  if (r.bucket === undefined) return r.method === "GET" ? "ListBuckets" : "Other";
  if (r.key === undefined) {
    switch (r.method) {
      case "GET": return q.has("uploads") ? "ListMultipartUploads" : q.has("location") ? "GetBucketLocation" : q.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects";
      case "HEAD": return "HeadBucket";
      case "PUT": return "CreateBucket";
      case "DELETE": return "DeleteBucket";
      case "POST": return q.has("delete") ? "DeleteObjects" : "Other";
      default: return "Other";
    }
  }
  const upload = q.has("uploadId");
  switch (r.method) {
    case "PUT": return upload || q.has("partNumber") ? "UploadPart" : r.req.headers["x-amz-copy-source"] !== undefined ? "CopyObject" : "PutObject";
    case "POST": return q.has("uploads") ? "CreateMultipartUpload" : upload ? "CompleteMultipartUpload" : "Other";
    case "GET": return upload ? "ListParts" : "GetObject";
    case "HEAD": return "HeadObject";
    case "DELETE": return upload ? "AbortMultipartUpload" : "DeleteObject";
    default: return "Other";
  }
}

/** A request was handled: `t0` from performance.now() when it arrived. */
export function s3RequestDone(r: S3Request, t0: number): void {
  const operation = s3Operation(r);
  requests.inc({ operation, status: String(r.res.statusCode) });
  duration.observe({ operation }, (performance.now() - t0) / 1000);
}
