// The whole cluster's metrics, gathered over NATS: one `mogile.metrics.scrape` request answered by
// every actor process, the replies merged into one Prometheus exposition with `role` and `instance`
// labels per source (metric families kept together, each HELP/TYPE once, as the format requires).
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { subjects } from "../../protocol/subjects.ts";
import { MetricsScrapeReply } from "../../protocol/metrics.ts";

export interface ScrapeOptions {
  /** the longest a scrape waits for replies (ms) */
  maxWaitMs: number;
  /** once every process seen lately has answered, how long to wait for others (ms) */
  quietMs: number;
  /** with no process known yet (the first scrape), the silence after the last reply that ends it (ms) */
  discoverQuietMs: number;
  /** a process silent this long is no longer waited for, nor reported down (ms) */
  forgetMs: number;
}

export const DEFAULT_SCRAPE: ScrapeOptions = { maxWaitMs: 3_000, quietMs: 50, discoverQuietMs: 500, forgetMs: 120_000 };

export interface Scrape {
  replies: MetricsScrapeReply[];
  /** processes that answered an earlier scrape and not this one */
  missing: { role: string; instance: string }[];
  seconds: number;
}

/** Asks every actor process for its metrics; remembers who answered, so the next scrape knows whom to wait for. */
export class ClusterScraper {
  private known = new Map<string, { role: string; at: number }>();

  constructor(private readonly nc: NatsConnection, private readonly o: ScrapeOptions = DEFAULT_SCRAPE) {}

  async scrape(text = true): Promise<Scrape> {
    const t0 = performance.now();
    const now = Date.now();
    for (const [instance, k] of this.known) if (now - k.at > this.o.forgetMs) this.known.delete(instance);
    const expected = [...this.known.keys()];
    const got = new Map<string, MetricsScrapeReply>();
    // the iterator nats.js returns is a QueuedIterator (stop() ends it early), typed as AsyncIterable
    const it = (await this.nc.requestMany(subjects.metricsScrape, JSON.stringify({ text }), { strategy: "timer", maxWait: this.o.maxWaitMs })) as AsyncIterable<Msg> & { stop(): void };
    let quiet: NodeJS.Timeout | undefined;
    for await (const m of it) {
      let r: MetricsScrapeReply;
      try { r = MetricsScrapeReply.parse(m.json()); } catch { continue; }
      got.set(r.instance, r);
      this.known.set(r.instance, { role: r.role, at: Date.now() });
      // everyone we know answered: a moment for newcomers, then done; a first scrape ends on silence
      const complete = expected.length > 0 && expected.every((i) => got.has(i));
      clearTimeout(quiet);
      if (complete || expected.length === 0) quiet = setTimeout(() => it.stop(), complete ? this.o.quietMs : this.o.discoverQuietMs);
    }
    clearTimeout(quiet);
    const missing = expected.filter((i) => !got.has(i)).map((instance) => ({ instance, role: this.known.get(instance)?.role ?? "unknown" }));
    const replies = [...got.values()].sort((a, b) => a.role.localeCompare(b.role) || a.instance.localeCompare(b.instance, undefined, { numeric: true }));
    return { replies, missing, seconds: (performance.now() - t0) / 1000 };
  }
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

interface Family { help: string | null; type: string | null; samples: string[] }

/**
 * One exposition from many: every sample gets `role` and `instance` labels first; families are
 * grouped across sources (a family's HELP and TYPE once, then all its samples).
 */
export function mergeExpositions(sources: { role: string; instance: string; text: string }[]): string {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: null, type: null, samples: [] }));
    return f;
  };
  for (const s of sources) {
    const extra = `role="${esc(s.role)}",instance="${esc(s.instance)}"`;
    let current: Family | null = null;
    for (const line of s.text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
        const rest = line.slice(7);
        const sp = rest.indexOf(" ");
        current = family(sp < 0 ? rest : rest.slice(0, sp));
        if (line[2] === "H") current.help ??= line; else current.type ??= line;
        continue;
      }
      if (line.startsWith("#")) continue;
      const brace = line.indexOf("{");
      const space = line.indexOf(" ");
      const labelled = brace >= 0 && (space < 0 || brace < space);
      const name = line.slice(0, labelled ? brace : space);
      const sample = labelled
        ? `${name}{${extra}${line[brace + 1] === "}" ? "" : ","}${line.slice(brace + 1)}`
        : `${name}{${extra}}${line.slice(space)}`;
      // samples of a family follow its TYPE line (histogram _bucket/_sum/_count included)
      (current ?? family(name)).samples.push(sample);
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    if (f.help) out.push(f.help);
    if (f.type) out.push(f.type);
    out.push(...f.samples);
  }
  return out.join("\n") + "\n";
}

/** The aggregated exposition: every source's metrics plus, per process, whether it answered. */
export function clusterExposition(s: Scrape): string {
  const ok = s.replies.filter((r) => r.text !== undefined);
  const up = [
    "# HELP mogile_scrape_source_up 1 if the process answered the gateway's NATS scrape with its metrics, 0 if it answered without them or a recent scrape found it and this one did not",
    "# TYPE mogile_scrape_source_up gauge",
    ...s.replies.map((r) => `mogile_scrape_source_up{role="${esc(r.role)}",instance="${esc(r.instance)}"} ${r.text !== undefined ? 1 : 0}`),
    ...s.missing.map((m) => `mogile_scrape_source_up{role="${esc(m.role)}",instance="${esc(m.instance)}"} 0`),
    "# HELP mogile_scrape_duration_seconds How long the gateway's NATS scrape of every process took",
    "# TYPE mogile_scrape_duration_seconds gauge",
    `mogile_scrape_duration_seconds ${s.seconds}`,
  ].join("\n");
  return mergeExpositions(ok.map((r) => ({ role: r.role, instance: r.instance, text: r.text! }))) + up + "\n";
}

/**
 * Prometheus HTTP service discovery (`http_sd_configs`): each process that serves its own /metrics
 * port, labelled like the aggregate.
 */
export function scrapeTargets(s: Scrape): { targets: string[]; labels: Record<string, string> }[] {
  const out: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const r of s.replies) {
    if (!r.url) continue;
    const u = new URL(r.url);
    out.push({ targets: [u.host], labels: { role: r.role, instance: r.instance, __scheme__: u.protocol.replace(":", ""), __metrics_path__: u.pathname } });
  }
  return out;
}
