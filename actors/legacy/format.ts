// Flattens each command's JSON reply into the MogileFS reply fields classic clients parse (§2), in one table.
import type { Command, Reply } from "../../protocol/schemas.ts";
import type { Args, Fields } from "./codec.ts";

type Flatten<C extends Command> = (reply: Reply<C>, args: Args) => Fields;

const none = (): Fields => ({});
const bit = (b: boolean) => (b ? 1 : 0);
const list = (xs: readonly (string | number)[] | null | undefined) => (xs ? xs.join(",") : null);
/** a MogileFS bool argument: non-empty and not "0" */
const truthy = (v: string | undefined) => v !== undefined && v !== "" && v !== "0";

/** `prefix` + 1-based index + `suffix` for each row: the shape every MogileFS list reply uses. */
function rows<T>(items: readonly T[], each: (item: T, n: number) => Fields): Fields {
  const out: Fields = {};
  items.forEach((item, i) => Object.assign(out, each(item, i + 1)));
  return out;
}

const formats: { [C in Command]: Flatten<C> } = {
  create_domain: (r) => ({ domain: r.domain }),
  delete_domain: (r) => ({ domain: r.domain }),
  get_domains: (r) => ({
    domains: r.domains.length,
    ...rows(r.domains, (d, i) => ({
      [`domain${i}`]: d.domain,
      [`domain${i}classes`]: d.classes.length,
      ...rows(d.classes, (c, j) => ({
        [`domain${i}class${j}name`]: c.class,
        [`domain${i}class${j}mindevcount`]: c.mindevcount,
        [`domain${i}class${j}replpolicy`]: c.replpolicy,
        [`domain${i}class${j}hashtype`]: c.hashtype,
        // mogile addition, only when set
        ...("durable_copies" in c && c.durable_copies !== undefined ? { [`domain${i}class${j}durable_copies`]: c.durable_copies } : {}),
        ...("async_copies" in c && c.async_copies ? { [`domain${i}class${j}async_copies`]: 1 } : {}),
      })),
      // mogile additions, only when set
      ...(d.signed_get ? { [`domain${i}signed_get`]: 1 } : {}),
      ...(d.anonymous_read ? { [`domain${i}anonymous_read`]: 1 } : {}),
    })),
  }),
  update_domain: (r) => ({ domain: r.domain, signed_get: bit(r.signed_get), anonymous_read: bit(r.anonymous_read) }),
  create_class: (r) => ({ class: r.class, mindevcount: r.mindevcount, domain: r.domain }),
  // dry_run=1 (mogile addition): the counts as they are, booleans as 1/0
  update_class: (r) => ({
    class: r.class, mindevcount: r.mindevcount, domain: r.domain,
    ...(r.dry_run ? { dry_run: 1, ...r.dry_run, complete: bit(r.dry_run.complete) } : {}),
  }),
  delete_class: (r) => ({ domain: r.domain, class: r.class }),

  create_host: (r) => ({ hostid: r.hostid, hostname: r.hostname }),
  update_host: (r) => ({ hostid: r.hostid, hostname: r.hostname }),
  delete_host: none,
  get_hosts: (r) => ({
    hosts: r.hosts.length,
    ...rows(r.hosts, (h, i) => ({
      [`host${i}_hostid`]: h.hostid,
      [`host${i}_status`]: h.status,
      [`host${i}_hostname`]: h.hostname,
      [`host${i}_hostip`]: h.hostip,
      [`host${i}_http_port`]: h.http_port,
      [`host${i}_http_get_port`]: h.http_get_port,
      [`host${i}_altip`]: h.altip,
      [`host${i}_altmask`]: h.altmask,
      // mogile addition, only when set
      ...(h.zone ? { [`host${i}_zone`]: h.zone } : {}),
    })),
  }),
  // MogileFS answers create_device with no fields; devid and hostid are a harmless mogile addition
  create_device: (r) => ({ devid: r.devid, hostid: r.hostid }),
  get_devices: (r) => ({
    devices: r.devices.length,
    ...rows(r.devices, (d, i) => ({
      [`dev${i}_devid`]: d.devid,
      [`dev${i}_hostid`]: d.hostid,
      [`dev${i}_status`]: d.status,
      [`dev${i}_weight`]: d.weight,
      [`dev${i}_mb_total`]: d.mb_total,
      [`dev${i}_mb_used`]: d.mb_used,
      [`dev${i}_mb_free`]: d.mb_free,
      [`dev${i}_mb_asof`]: null,
      [`dev${i}_observed_state`]: d.observed_state,
      [`dev${i}_utilization`]: d.utilization,
      [`dev${i}_reject_bad_md5`]: null,
    })),
  }),
  set_state: none,
  set_weight: none,
  register_storage: (r) => ({ hostid: r.hostid, devids: list(r.devids) }),

  // the reply shape follows the request: clients that asked for multi_dest parse dev_count/devid_N/path_N
  create_open: (r, args) =>
    truthy(args.multi_dest)
      ? {
          fid: r.fid,
          dev_count: r.dests.length,
          ...rows(r.dests, (d, i) => ({ [`devid_${i}`]: d.devid, [`path_${i}`]: d.path })),
        }
      : { fid: r.fid, devid: r.devid, path: r.path },
  create_close: none,
  get_paths: (r) => ({ paths: r.paths.length, ...rows(r.paths, (p, i) => ({ [`path${i}`]: p })) }),
  file_info: (r) => ({
    fid: r.fid, domain: r.domain, class: r.class, key: r.key, length: r.length, devcount: r.devcount,
    ...(r.checksum !== undefined ? { checksum: r.checksum } : {}),
    ...(r.devids !== undefined ? { devids: list(r.devids) } : {}),
  }),
  // row columns prefixed like MogileFS (`fid_dkey` is its column name; `fid_key` and `fid_domain` are mogile's)
  file_debug: (r) => ({
    ...(r.domain !== null
      ? { fid_fid: r.fid, fid_domain: r.domain, fid_dkey: r.key, fid_key: r.key, fid_class: r.class, fid_length: r.length, fid_devcount: r.devids.length }
      : {}),
    devids: list(r.devids),
    ...Object.fromEntries(Object.entries(r.devpaths).map(([devid, p]) => [`devpath_${devid}`, p])),
    checksum: r.checksum,
    ...(r.tempfile
      ? {
          tempfile_fid: r.fid, tempfile_domain: r.tempfile.domain, tempfile_dkey: r.tempfile.key, tempfile_class: r.tempfile.class,
          tempfile_devids: list(r.tempfile.devids), tempfile_expires: r.tempfile.expires,
        }
      : {}),
  }),
  delete: none,
  rename: none,
  updateclass: none,
  // mogile addition: copy<N>_* per copy (placed_cause empty: no record), change<N> per line of would_change
  explain: (r) => ({
    fid: r.fid, domain: r.domain, key: r.key, class: r.class, length: r.length,
    replpolicy: r.replpolicy, mindevcount: r.mindevcount, wanted: r.wanted, policy_state: r.policy_state, policy_detail: r.policy_detail,
    copies: r.copies.length,
    ...rows(r.copies, (c, i) => ({
      [`copy${i}_devid`]: c.devid, [`copy${i}_hostid`]: c.hostid, [`copy${i}_status`]: c.status, [`copy${i}_counts`]: bit(c.counts),
      [`copy${i}_placed_cause`]: c.placed?.cause ?? "", [`copy${i}_placed_why`]: c.placed?.why ?? "no record", [`copy${i}_placed_at`]: c.placed?.at ?? "",
    })),
    changes: r.would_change.length,
    ...rows(r.would_change, (w, i) => ({ [`change${i}`]: w })),
  }),
  list_keys: (r) => ({
    key_count: r.key_count,
    next_after: r.next_after,
    ...rows(r.keys, (k, i) => ({ [`key_${i}`]: k })),
  }),
  list_fids: (r) => ({
    fid_count: r.fid_count,
    ...rows(r.fids, (f, i) => ({
      [`fid_${i}_fid`]: f.fid,
      [`fid_${i}_domain`]: f.domain,
      [`fid_${i}_class`]: f.class,
      [`fid_${i}_key`]: f.key,
      [`fid_${i}_length`]: f.length,
      [`fid_${i}_devcount`]: f.devcount,
    })),
  }),

  noop: none,
  sleep: none,
  // MogileFS answers with the request's own arguments
  clear_cache: (r) => ({ ...r }),
  replicate_now: (r) => ({ count: r.count }),
  server_setting: (r) => ({ key: r.key, value: r.value }),
  server_settings: (r) => {
    const entries = Object.entries(r.settings);
    return { key_count: entries.length, ...rows(entries, ([k, v], i) => ({ [`key_${i}`]: k, [`value_${i}`]: v })) };
  },
  set_server_setting: none,
  stats: (r) => ({ ...r }),
  failed_jobs: (r) => ({
    job_count: r.jobs.length,
    ...rows(r.jobs, (j, i) => ({
      [`job_${i}_kind`]: j.kind,
      [`job_${i}_fid`]: j.fid,
      [`job_${i}_error`]: j.error,
      [`job_${i}_at`]: j.at,
      [`job_${i}_deliveries`]: j.deliveries,
    })),
  }),

  fsck_start: none,
  fsck_stop: none,
  fsck_reset: none,
  fsck_clearlog: none,
  // NULL fields (a log row without a device) are left out, as MogileFS does
  fsck_getlog: (r) => ({
    row_count: r.row_count,
    ...rows(r.rows, (x, i) => ({
      [`row_${i}_logid`]: x.logid, [`row_${i}_utime`]: x.utime, [`row_${i}_fid`]: x.fid, [`row_${i}_evcode`]: x.evcode,
      ...(x.devid !== undefined ? { [`row_${i}_devid`]: x.devid } : {}),
    })),
  }),
  fsck_status: (r) => ({
    running: bit(r.running), host: r.host ?? "", max_fid_checked: r.max_fid_checked, policy_only: bit(r.policy_only), end_fid: r.end_fid,
    start_time: r.start_time ?? 0, stop_time: r.stop_time ?? 0, current_time: r.current_time, max_logid: r.max_logid,
    ...Object.fromEntries(Object.entries(r.counts).map(([code, n]) => [`num_${code}`, n])),
    // mogile extras
    checked: r.checked, rate: r.rate, remaining: r.remaining, domain: r.domain, class: r.class,
  }),
  rebalance_set_policy: none,
  rebalance_test: (r) => ({ sdevs: list(r.sdevs), ddevs: list(r.ddevs), files: r.files, bytes: r.bytes }),
  rebalance_start: (r) => ({ state: r.state }),
  rebalance_stop: none,
  rebalance_status: (r) => ({ state: r.state }),
  rebalance_reset: none,
  // gateway keys are never forwarded by the classic protocol (dispatch.ts INTERNAL)
  key_add: none,
  key_list: none,
  key_revoke: none,
  key_lookup: none,
  key_secret: none,
};

/**
 * The reply fields for `command`. Commands without an entry (none today; a command added without
 * one) keep their scalar fields as they are.
 */
export function flatten(command: string, reply: unknown, args: Args): Fields {
  const f = (formats as Record<string, Flatten<Command> | undefined>)[command];
  if (f) return f(reply as never, args);
  const out: Fields = {};
  if (reply && typeof reply === "object") {
    for (const [k, v] of Object.entries(reply)) {
      if (v === null || ["string", "number", "boolean"].includes(typeof v)) out[k] = v as Fields[string];
      else if (Array.isArray(v) && v.every((x) => typeof x !== "object")) out[k] = v.join(",");
    }
  }
  return out;
}
