// explain: for each copy of a file, the decision that put it there (from the placement record the
// writers keep on the file), whether the file meets its class policy now, and what would change it.
// Files stored before the record existed say "no record" (placed: null) rather than a guess.
import type { QueryContext } from "../context.ts";
import type { ExplainCopy, Parsed, Reply } from "../../../protocol/schemas.ts";
import type { ClassDoc, FileDoc } from "../../runtime/mongo.ts";
import type { DeviceView } from "../../runtime/devices.ts";
import { fileByKey } from "./util.ts";
import { ruleOf, type ClassRule } from "../../runtime/domain/classes.ts";
import { decide, meets, placement, type Placed, type PolicyName } from "../../runtime/domain/policy.ts";
import { lackOf, placementHistory, placementOf, policyText, zonesOf } from "../../runtime/domain/placements.ts";
import { simulate } from "../../runtime/domain/class_change.ts";

export async function explain(ctx: QueryContext, a: Parsed<"explain">): Promise<Reply<"explain">> {
  const file = await fileByKey(ctx, a.domain, a.key);
  // a class deleted since the file was written: the file lives by its domain's default class
  const cls = await ctx.names.getClass(file.domain, file.class).catch(() => ctx.names.getClass(file.domain, undefined));
  return explainFile(file, cls, ctx.devices);
}

const devs = (xs: readonly number[]) => xs.map((d) => `dev${d}`).join(", ");
const copiesText = (n: number) => `${n} ${n === 1 ? "copy" : "copies"}`;

/** The explanation, from the file row, its class and the device view (no I/O: unit-testable). */
export function explainFile(file: FileDoc, cls: ClassDoc, view: DeviceView): Reply<"explain"> {
  const rule = ruleOf(cls);
  const { on, writable, live } = placement(view, file.devids, file.length);
  const zones = zonesOf(on, live);
  const answer = decide({ policy: rule.policy, min: rule.min, on, writable, live });
  const policy = policyText(rule.policy, rule.min);
  const counted = new Set(on.map((p) => p.devid));

  const copies: ExplainCopy[] = file.devids.map((devid) => {
    const r = view.row(devid);
    return {
      devid, hostid: r?.dev.hostid ?? null, hostname: r?.host.hostname ?? null, zone: r?.host.zone ?? null,
      status: r?.dev.status ?? null, observed: r?.observed?.observed ?? null,
      counts: counted.has(devid), placed: placementOf(file.placements, devid),
    };
  });

  const hosts = new Set(on.map((p) => p.hostid)).size;
  const spread = `${copiesText(on.length)} on ${hosts} ${hosts === 1 ? "host" : "hosts"}` +
    (rule.policy.name === "MultipleNetworks" ? ` in ${new Set(on.map((p) => p.zone ?? "")).size} of ${zones} zones` : "");
  let state: Reply<"explain">["policy_state"];
  let detail: string;
  const changes: string[] = [];
  switch (answer.kind) {
    case "satisfied":
      state = "meets";
      detail = `${spread} meet ${policy}`;
      break;
    case "too_many":
      state = "surplus";
      detail = `${spread} meet ${policy} with one to spare`;
      changes.push(`dev${answer.devid}'s copy is one more than ${policy} needs: the replicator drops it the next time it handles the file`);
      break;
    case "copy":
      state = "below";
      detail = `${spread}, below ${policy}: ${lackOf(rule.policy, on, rule.min, zones) || "another copy wanted"}`;
      changes.push(`the replicator copies it to one of ${devs(answer.devids)}${answer.desperate ? " (beside another copy: no device on a new host or zone can take one)" : ""} ` +
        "when it handles the file (a replicate job is queued whenever a copy goes missing; fsck queues one for a file found below its policy)");
      break;
    case "wait":
      state = "waiting";
      detail = `${spread}: ${answer.reason}`;
      changes.push(`nothing can be done until devices change: ${answer.reason}`);
      break;
    case "no_source":
      state = "no_copy";
      detail = "no copy is on a live device";
      changes.push("only a copy coming back (its device revived) or fsck finding one elsewhere can restore the file");
      break;
  }
  changes.push(...deviceNotes(file, view, counted), ...losses(rule, on, zones, answer.kind, view), ...classChanges(view, rule, file.devids, file.length, zones));
  return {
    fid: file.fid, domain: file.domain, key: file.key, class: cls.class, length: file.length,
    replpolicy: cls.replpolicy, mindevcount: cls.mindevcount, wanted: rule.min,
    policy_state: state, policy_detail: detail,
    copies, history: placementHistory(file.placements), would_change: changes,
  };
}

/** Copies whose device is not in its normal state: what is going to happen to them. */
function deviceNotes(file: FileDoc, view: DeviceView, counted: Set<number>): string[] {
  const out: string[] = [];
  for (const devid of file.devids) {
    const r = view.row(devid);
    if (!r) out.push(`dev${devid} is unknown to the trackers: its copy does not count`);
    else if (r.dev.status === "dead") out.push(`dev${devid} is dead: recovery forgets its copy and the replicator makes another`);
    else if (r.dev.status === "drain") out.push(`dev${devid} is being drained: its copy moves to another device`);
    else if (!counted.has(devid)) out.push(`dev${devid} has been unreachable too long: the file is copied elsewhere until the policy holds without it (its copy is then surplus when it returns)`);
    else if (!view.readable(devid)) out.push(`dev${devid} is not readable now (${r.dev.status}, ${r.observed?.observed ?? "not observed"}): its copy still counts`);
  }
  return out;
}

/** Which single host (or zone) lost would take a file that meets its policy below it. */
function losses(rule: ClassRule, on: Placed[], zones: number, kind: string, view: DeviceView): string[] {
  if (kind !== "satisfied" && kind !== "too_many") return [];
  const out: string[] = [];
  const policy = policyText(rule.policy, rule.min);
  const byHost = new Map<number, number[]>();
  for (const p of on) byHost.set(p.hostid, [...(byHost.get(p.hostid) ?? []), p.devid]);
  for (const [hostid, ds] of byHost) {
    if (!meets(rule.policy, on.filter((p) => p.hostid !== hostid), rule.min, zones)) {
      const name = view.row(ds[0])?.host.hostname;
      out.push(`losing host ${name ? `${name} (id ${hostid}, ${devs(ds)})` : `${hostid} (${devs(ds)})`} would leave it below ${policy}: the replicator would copy it again from the others`);
    }
  }
  if (rule.policy.name === "MultipleNetworks") {
    for (const zone of new Set(on.map((p) => p.zone ?? ""))) {
      if (!meets(rule.policy, on.filter((p) => (p.zone ?? "") !== zone), rule.min, zones)) out.push(`losing zone ${zone || "(none)"} would leave it below ${policy}`);
    }
  }
  if (out.length === 0 && byHost.size > 1) out.push(`any one host can be lost without going below ${policy}`);
  return out;
}

/** What other class rules would do to this file: one copy more or less, another policy. */
function classChanges(view: DeviceView, rule: ClassRule, devids: number[], length: number, zones: number): string[] {
  const out: string[] = [];
  const now = simulate(view, rule, devids, length);
  const describe = (what: string, r: ClassRule) => {
    const s = simulate(view, r, devids, length);
    const diff = (s.added - s.dropped) - (now.added - now.dropped);
    if (!s.met) out.push(`${what} could not be met with the devices there are now`);
    else if (diff > 0) out.push(`${what} would add ${copiesText(diff)}`);
    else if (diff < 0) out.push(`${what} would drop ${copiesText(-diff)}`);
    else if (s.added !== now.added || s.dropped !== now.dropped) out.push(`${what} would move a copy`);
  };
  // an explicit N in the policy overrides mindevcount: then it is the N that would change
  const knob = rule.policy.n !== null ? "the policy's N" : "mindevcount";
  describe(`${knob} ${rule.min + 1}`, { ...rule, min: rule.min + 1 });
  if (rule.min > 1) describe(`${knob} ${rule.min - 1}`, { ...rule, min: rule.min - 1 });
  const others: PolicyName[] = (["MultipleHosts", "MultipleDevices", "MultipleNetworks"] as const).filter((n) => n !== rule.policy.name);
  for (const name of others) {
    // with one zone, MultipleNetworks is MultipleHosts
    if (zones <= 1 && (name === "MultipleNetworks" || rule.policy.name === "MultipleNetworks") && name !== "MultipleDevices") continue;
    describe(`${name}(${rule.min})`, { ...rule, policy: { name, n: null } });
  }
  return out;
}
