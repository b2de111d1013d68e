// Class rules, in one place: the implicit default class every domain has, and the one class cache
// the query actor, the replicator and fsck read class rows through.
//
// A missing row means one thing everywhere: the default class (by name, or no class) is the
// implicit row below unless a stored row overrides it; any other class without a row is unknown.
// Client-facing lookups turn unknown into `unreg_class` (the query actor); a file whose class was
// deleted since it was written lives by its domain's default class (`forFile`).
import { DEFAULT_REPL_POLICY, type HashType } from "../../../protocol/schemas.ts";
import { classId, type ClassDoc, type Store } from "../mongo.ts";
import { parsePolicy, policyMin, type ReplPolicy } from "./policy.ts";

/** the class every domain has without creating it */
export const DEFAULT_CLASS = "default";
export const DEFAULT_MINDEVCOUNT = 2;
export const DEFAULT_HASHTYPE: HashType = "NONE";

/** The class a file or request names: none means the default class. */
export const classNameOf = (cls: string | null | undefined): string => cls || DEFAULT_CLASS;

/** The implicit default class row of a domain (mindevcount 2, MultipleHosts(), no checksums). */
export function defaultClassRow(domain: string): ClassDoc {
  return { _id: classId(domain, DEFAULT_CLASS), domain, class: DEFAULT_CLASS, mindevcount: DEFAULT_MINDEVCOUNT, replpolicy: DEFAULT_REPL_POLICY, hashtype: DEFAULT_HASHTYPE };
}

/** What placement needs of a class: how many copies, how spread, which digest. */
export interface ClassRule { min: number; policy: ReplPolicy; hashtype: string }
export function ruleOf(row: ClassDoc): ClassRule {
  const policy = parsePolicy(row.replpolicy);
  return { min: policyMin(policy, row.mindevcount), policy, hashtype: row.hashtype || DEFAULT_HASHTYPE };
}

/**
 * Class rows cached for a few seconds (classes change rarely; lookups are many). Only rows that
 * exist (the implicit default included) are cached: a class created elsewhere is seen at once.
 */
export class ClassCache {
  private rows = new Map<string, { row: ClassDoc; at: number }>();
  constructor(private readonly store: Store, private readonly ttlMs = 5_000) {}

  /** The class row: stored, or the implicit default row for the default class; null when unknown. */
  async find(domain: string, cls: string | null | undefined): Promise<ClassDoc | null> {
    const name = classNameOf(cls);
    const id = classId(domain, name);
    const hit = this.rows.get(id);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.row;
    const row = (await this.store.classes.findOne({ _id: id })) ?? (name === DEFAULT_CLASS ? defaultClassRow(domain) : null);
    if (row) this.rows.set(id, { row, at: Date.now() });
    return row;
  }

  /** The rule a stored file lives by: its class, or its domain's default class if that was deleted since. */
  async forFile(file: { domain: string; class?: string | null }): Promise<ClassDoc> {
    return (await this.find(file.domain, file.class)) ?? (await this.find(file.domain, DEFAULT_CLASS))!;
  }

  forget(): void { this.rows.clear(); }
}
