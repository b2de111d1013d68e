// The metrics scrape over NATS (subject `mogile.metrics.scrape`): one request, one reply from every
// actor process with who it is, where its own /metrics port is, and its Prometheus text exposition.
import { z } from "zod";

/** `text: false` asks only who answers and where (discovery); the default also carries the metrics */
export const MetricsScrapeRequest = z.object({ text: z.boolean().default(true) });
export type MetricsScrapeRequest = z.infer<typeof MetricsScrapeRequest>;

export const MetricsScrapeReply = z.object({
  /** the actor's role (query, storage, gateway, …) */
  role: z.string(),
  /** the process's instance name (query-1, host2, …): unique in a cluster */
  instance: z.string(),
  /** this process's own /metrics URL, null when it serves none (MOGILE_METRICS_PORT unset) */
  url: z.string().nullable(),
  /** the Prometheus text exposition (format 0.0.4), when asked for */
  text: z.string().optional(),
  /** why the text is missing although it was asked for (e.g. larger than a NATS message may be) */
  error: z.string().optional(),
});
export type MetricsScrapeReply = z.infer<typeof MetricsScrapeReply>;
