// What the OpenAPI document says about each REST route beyond what the app itself knows (its method,
// path and guard): summary, parameters, bodies and replies, all as the protocol's zod schemas the
// handlers validate with. test/openapi.test.ts fails when a route and this table disagree.
import { z } from "zod";
import {
  CreateDevice, CreateDomain, CreateHost, FailedJobs,
} from "../../protocol/schemas.ts";
import {
  CreateCloseReply, CreateDeviceReply, DeviceInfo, DomainReply, GetDevicesReply, GetDomainsReply, GetHostsReply,
  HostReply, ClassReply, ListKeysReply, StatsReply, FailedJobsReply, UpdateClassReply,
} from "../../protocol/replies.ts";
import {
  ClassParam, CreateClassBody, DevicePatch, DevidParam, DomainClassesReply, DomainParam, FileClassBody, FileClassReply,
  FileJsonReply, GetFileQuery, HealthReply, HostParam, KeyParam, ListFilesQuery, PutFileQuery, RenameBody, RenameReply,
  UpdateClassBody, UpdateHostBody,
} from "../../protocol/rest.ts";

export type Tag = "files" | "domains" | "cluster" | "rpc" | "service";

export interface HeaderDoc { description: string; required?: boolean; schema?: Record<string, unknown> }
export interface ReplyDoc {
  description: string;
  /** a JSON body with this schema */
  json?: z.ZodType;
  /** the file's bytes */
  bytes?: boolean;
  /** another media type, its body not described (the reference page) */
  media?: string;
  headers?: Record<string, HeaderDoc>;
}
export interface RouteDoc {
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** by the route's `:name` */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  /** a JSON body with this schema, or the file's bytes, streamed */
  body?: z.ZodType | "bytes";
  /** success replies by status */
  ok: Record<number, ReplyDoc>;
  /** error statuses this route answers besides those every route can (see openapi.ts) */
  errors?: number[];
}

const domain = { domain: DomainParam };
const file = { domain: DomainParam, key: KeyParam };
const length: HeaderDoc = { description: "the file's length in bytes", required: true, schema: { type: "integer" } };
const ranges: HeaderDoc = { description: "`bytes`: Range requests are honoured", schema: { type: "string" } };
const created = (description: string, json: z.ZodType): Record<number, ReplyDoc> => ({ 201: { description, json } });
const ok = (description: string, json: z.ZodType): Record<number, ReplyDoc> => ({ 200: { description, json } });
const gone = (description: string): Record<number, ReplyDoc> => ({ 204: { description } });

/** hono's `METHOD path` → its documentation */
export const ROUTE_DOCS: Record<string, RouteDoc> = {
  // ---- service ----
  "GET /healthz": {
    operationId: "health", tag: "service", summary: "Health: a tracker answers",
    description: "Open (no key). 503/504 when no tracker answers in 2 s.",
    ok: ok("a tracker answered", HealthReply),
  },
  "GET /v1/openapi.json": {
    operationId: "openapi", tag: "service", summary: "This OpenAPI 3.1 document",
    description: "Open (no key): the document describes the API and holds no cluster data.",
    ok: { 200: { description: "the document", media: "application/json" } },
  },
  "GET /v1/docs": {
    operationId: "reference", tag: "service", summary: "The API reference as an HTML page",
    description: "Open (no key); rendered from this document, self-contained (no scripts, nothing fetched).",
    ok: { 200: { description: "the page", media: "text/html" } },
  },

  "GET /metrics": {
    operationId: "metrics", tag: "service", summary: "Every actor process's Prometheus metrics, labelled by role and instance",
    description: "Cluster admin key. Scrape with `honor_labels: true`; `mogile_scrape_source_up 0` marks a process that answered an earlier scrape and not this one.",
    ok: { 200: { description: "Prometheus text exposition format 0.0.4", media: "text/plain" } },
  },
  "GET /metrics/targets": {
    operationId: "metricsTargets", tag: "service", summary: "Prometheus HTTP service discovery: each process's own /metrics port",
    description: "Cluster admin key. Processes without a metrics port are left out (their metrics are in GET /metrics).",
    ok: ok("one target group per process", z.array(z.object({ targets: z.array(z.string()), labels: z.record(z.string(), z.string()) }))),
  },

  "GET /ui": {
    operationId: "dashboard", tag: "service", summary: "The live dashboard page",
    description: "Open (no key): the page holds no cluster data; it asks for a cluster-admin key and reads `/ui/api/events`. Self-contained (its script and style inline, allowed by hash in a strict CSP; nothing fetched but this gateway's API).",
    ok: { 200: { description: "the page", media: "text/html" } },
  },
  "GET /ui/api/state": {
    operationId: "dashboardState", tag: "service", summary: "One dashboard snapshot: hosts, devices, counts, fsck, rebalance, a metrics summary",
    description: "Cluster admin key. A part that could not be read is empty and named in `errors`.",
    ok: { 200: { description: "the snapshot", media: "application/json" } },
  },
  "GET /ui/api/events": {
    operationId: "dashboardEvents", tag: "service", summary: "The dashboard's live feed (Server-Sent Events)",
    description: "Cluster admin key. `event: state` carries a snapshot (as GET /ui/api/state) every few seconds and soon after a device or task changes; `event: event` a cluster event (observed or admin device changes, fsck/rebalance, names, keys), the recent ones first. A comment line every 15 s keeps the stream open; 503 when the gateway already serves its maximum of streams.",
    ok: { 200: { description: "the event stream", media: "text/event-stream" } },
    errors: [503],
  },

  // ---- files ----
  "GET /v1/domains/:domain/files": {
    operationId: "listFiles", tag: "files", summary: "List keys, one page at a time, in key order",
    description: "An empty page is `{\"keys\": [], \"key_count\": 0, \"next_after\": \"\"}`, not an error.",
    params: domain, query: ListFilesQuery,
    ok: ok("one page of keys", ListKeysReply), errors: [404],
  },
  "PUT /v1/domains/:domain/files/:key{.+}": {
    operationId: "putFile", tag: "files", summary: "Store a file (replacing the key's previous one)",
    description: "The body is streamed to a storage node, with or without Content-Length; a declared or counted length over the gateway's limit is 413 and nothing is stored.",
    params: file, query: PutFileQuery, body: "bytes",
    ok: created("stored", CreateCloseReply), errors: [404],
  },
  "GET /v1/domains/:domain/files/:key{.+}": {
    operationId: "getFile", tag: "files", summary: "Read a file (Range honoured); its metadata with `?meta`, its placement with `?explain`",
    params: file, query: GetFileQuery,
    ok: {
      200: {
        description: "the file's bytes; with `?meta` its metadata, with `?explain` why each copy is where it is (JSON)",
        bytes: true, json: FileJsonReply, headers: { "content-length": { ...length, required: false }, "accept-ranges": ranges },
      },
      206: {
        description: "the requested range", bytes: true,
        headers: { "content-range": { description: "`bytes first-last/length`", required: true, schema: { type: "string" } }, "content-length": length },
      },
    },
    errors: [404, 416],
  },
  "HEAD /v1/domains/:domain/files/:key{.+}": {
    operationId: "headFile", tag: "files", summary: "A file's length, if it has a readable copy",
    params: file,
    ok: { 200: { description: "the file exists and has a readable copy", headers: { "content-length": length, "accept-ranges": ranges } } },
    errors: [404],
  },
  "DELETE /v1/domains/:domain/files/:key{.+}": {
    operationId: "deleteFile", tag: "files", summary: "Delete a key now (its bytes are removed in the background)",
    params: file, ok: gone("deleted"), errors: [404],
  },
  "POST /v1/domains/:domain/files/:key{.+}/rename": {
    operationId: "renameFile", tag: "files", summary: "Rename a key (never over an existing one)",
    params: file, body: RenameBody, ok: ok("renamed", RenameReply), errors: [404, 409],
  },
  "PATCH /v1/domains/:domain/files/:key{.+}": {
    operationId: "changeFileClass", tag: "files", summary: "Move a file to another class (MogileFS updateclass); replication follows",
    params: file, body: FileClassBody, ok: ok("the file's new class", FileClassReply), errors: [404],
  },

  // ---- domains and classes ----
  "GET /v1/domains": {
    operationId: "listDomains", tag: "domains", summary: "Domains with their classes: those the key has a scope on (all for a cluster admin)",
    ok: ok("the domains", GetDomainsReply),
  },
  "POST /v1/domains": {
    operationId: "createDomain", tag: "domains", summary: "Create a domain",
    body: CreateDomain, ok: created("created", DomainReply), errors: [409],
  },
  "DELETE /v1/domains/:domain": {
    operationId: "deleteDomain", tag: "domains", summary: "Delete a domain without files or classes",
    params: domain, ok: gone("deleted"), errors: [404, 409],
  },
  "GET /v1/domains/:domain/classes": {
    operationId: "listClasses", tag: "domains", summary: "A domain's classes (the default class included)",
    params: domain, ok: ok("the classes", DomainClassesReply), errors: [404],
  },
  "POST /v1/domains/:domain/classes": {
    operationId: "createClass", tag: "domains", summary: "Create a class",
    params: domain, body: CreateClassBody, ok: created("created", ClassReply), errors: [404, 409],
  },
  "PUT /v1/domains/:domain/classes/:class": {
    operationId: "updateClass", tag: "domains", summary: "Change a class (omitted replpolicy/hashtype stay); `dry_run` only reports",
    params: { domain: DomainParam, class: ClassParam }, body: UpdateClassBody, ok: ok("changed (or, with dry_run, what would change)", UpdateClassReply), errors: [404],
  },
  "DELETE /v1/domains/:domain/classes/:class": {
    operationId: "deleteClass", tag: "domains", summary: "Delete a class without files (never the default class)",
    params: { domain: DomainParam, class: ClassParam }, ok: gone("deleted"), errors: [404, 409],
  },

  // ---- hosts, devices, cluster ----
  "GET /v1/hosts": { operationId: "listHosts", tag: "cluster", summary: "Storage hosts", ok: ok("the hosts", GetHostsReply) },
  "POST /v1/hosts": {
    operationId: "createHost", tag: "cluster", summary: "Register a storage host (status `down` until changed)",
    body: CreateHost, ok: created("created", HostReply), errors: [409],
  },
  "PATCH /v1/hosts/:host": {
    operationId: "updateHost", tag: "cluster", summary: "Change a host's addresses, status or zone",
    params: { host: HostParam }, body: UpdateHostBody, ok: ok("changed", HostReply), errors: [404, 409],
  },
  "DELETE /v1/hosts/:host": {
    operationId: "deleteHost", tag: "cluster", summary: "Delete a host without devices",
    params: { host: HostParam }, ok: gone("deleted"), errors: [404, 409],
  },
  "GET /v1/devices": { operationId: "listDevices", tag: "cluster", summary: "Devices with usage and observed state", ok: ok("the devices", GetDevicesReply) },
  "POST /v1/devices": {
    operationId: "createDevice", tag: "cluster", summary: "Add a device to a host (by hostname or hostid)",
    body: CreateDevice, ok: created("created", CreateDeviceReply), errors: [404, 409],
  },
  "GET /v1/devices/:devid": {
    operationId: "getDevice", tag: "cluster", summary: "One device",
    params: { devid: DevidParam }, ok: ok("the device", DeviceInfo), errors: [404],
  },
  "PATCH /v1/devices/:devid": {
    operationId: "updateDevice", tag: "cluster", summary: "Set a device's state and/or weight",
    description: "A dead device cannot come back (`state_too_high`).",
    params: { devid: DevidParam }, body: DevicePatch, ok: ok("the device after the change", DeviceInfo), errors: [404],
  },
  "GET /v1/stats": { operationId: "stats", tag: "cluster", summary: "Cluster counts: domains, files, queues, recovery", ok: ok("the counts", StatsReply) },
  "GET /v1/admin/failed-jobs": {
    operationId: "failedJobs", tag: "cluster", summary: "Jobs the replicator or deleter gave up on, newest first",
    query: FailedJobs, ok: ok("the jobs", FailedJobsReply),
  },
};

/** POST /v1/rpc/{command}: one line per tracker command (a command without one is still listed). */
export const RPC_SUMMARIES: Readonly<Record<string, string>> = {
  create_domain: "Create a domain",
  delete_domain: "Delete an empty domain",
  get_domains: "Domains with their classes and access options (those the key has a scope on)",
  update_domain: "Change a domain's access options (signed_get, anonymous_read)",
  create_class: "Create a class",
  update_class: "Change a class; dry_run=1 reports what would change",
  delete_class: "Delete a class without files",
  create_host: "Register a storage host",
  update_host: "Change a host",
  delete_host: "Delete a host without devices",
  get_hosts: "Every host, or the one with hostid",
  create_device: "Add a device to a host",
  get_devices: "Every device, or the one with devid",
  set_state: "Set a device's state (host = its host's name)",
  set_weight: "Set a device's weight",
  register_storage: "A storage agent registers its host and devices (idempotent)",
  create_open: "Start an upload: a fid and the URL to PUT the bytes to",
  create_close: "Finish an upload: link the key to the stored bytes",
  get_paths: "URLs of a file's copies, best first",
  file_info: "A file's fid, class, length and copies",
  file_debug: "Everything known about a fid or key",
  explain: "Why each copy of a file is where it is",
  delete: "Delete a key",
  rename: "Rename a key",
  updateclass: "Move a file to another class",
  list_keys: "One page of keys in order",
  list_fids: "Files by fid, in fid order",
  noop: "A round trip to a tracker",
  sleep: "Wait `duration` seconds, then answer",
  clear_cache: "Reload the trackers' caches; echoes the arguments",
  replicate_now: "Run every waiting replication now",
  server_setting: "One server setting",
  server_settings: "Every server setting",
  set_server_setting: "Set a server setting",
  stats: "Cluster counts",
  failed_jobs: "Jobs the replicator or deleter gave up on",
  fsck_start: "Start (or resume) fsck",
  fsck_stop: "Stop fsck",
  fsck_reset: "Reset fsck's position",
  fsck_clearlog: "Clear the fsck log",
  fsck_getlog: "Read the fsck log",
  fsck_status: "fsck progress and counts",
  rebalance_set_policy: "Set the rebalance policy",
  rebalance_test: "The rebalance plan, without moving anything",
  rebalance_start: "Start rebalancing",
  rebalance_stop: "Stop rebalancing",
  rebalance_status: "Rebalance progress",
  rebalance_reset: "Forget the rebalance state",
  key_add: "Create a gateway key (its secret is shown this once)",
  key_list: "Gateway keys (never their secrets)",
  key_revoke: "Revoke a gateway key",
  key_lookup: "A key's scopes and secret verifier (for gateways)",
};
