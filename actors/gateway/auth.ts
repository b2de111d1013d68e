// Who is calling and what they may do: `Authorization: Bearer <access key id>:<secret>`, checked
// against the key's record (key_lookup, cached briefly, dropped at once when the key is revoked),
// and the route guards that map every route to the access it needs (401 no or bad key, 403 no scope).
import type { Context, MiddlewareHandler } from "hono";
import { MogileError } from "../../protocol/errors.ts";
import type { KeyAccess, KeyScope, Reply } from "../../protocol/schemas.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { allows, checkSecret, parseCredential, seesDomain } from "../runtime/keys.ts";
import type { GatewayEnv } from "./body.ts";

export type Principal =
  | { kind: "anonymous" }
  | { kind: "key"; id: string; cluster_admin: boolean; scopes: KeyScope[] };

/** What a route or command needs. */
export type Need =
  /** a cluster-admin key */
  | { kind: "cluster" }
  /** any valid key (what it sees may be filtered) */
  | { kind: "key" }
  /** `access` on the request's domain; anonymous callers may read a domain with anonymous_read */
  | { kind: "domain"; access: KeyAccess };

export interface AuthOptions {
  clusterKey: Buffer;
  /** ms a looked-up key is trusted before it is looked up again (revocation events evict sooner) */
  keyCacheMs: number;
  /** ms the domains' anonymous_read flags are trusted (domain change events evict sooner) */
  domainCacheMs: number;
}

type Lookup = Reply<"key_lookup">;
const MAX_CACHED_KEYS = 10_000;

export const unauthorized = (message: string) => new MogileError("unauthorized", message);
const forbidden = (message: string) => new MogileError("forbidden", message);

/** One per gateway: checks presented keys and answers whether a domain is readable without one. */
export class Authenticator {
  private keys = new Map<string, { rec: Lookup; until: number }>();
  private pending = new Map<string, Promise<Lookup | null>>();
  /** bumped by every eviction: a lookup that was in flight meanwhile is not cached */
  private keyEpoch = 0;
  private domains: { anonymous: Set<string>; until: number } | null = null;
  private domainsPending: Promise<Set<string>> | null = null;
  private domainEpoch = 0;

  constructor(private readonly client: Pick<MogileClient, "rpc">, private readonly o: AuthOptions) {}

  /** The caller behind an Authorization header (none: anonymous); a bad key is `unauthorized`. */
  async principal(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.trim() === "") return { kind: "anonymous" };
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m) throw unauthorized("the Authorization header must be `Bearer <access key id>:<secret>`");
    const cred = parseCredential(m[1]);
    if (!cred) throw unauthorized("the bearer token is not `<access key id>:<secret>`");
    const rec = await this.lookup(cred.id);
    // one answer for all three: which one it was is nobody's business but the key owner's
    if (!rec || rec.revoked || !checkSecret(this.o.clusterKey, rec.id, cred.secret, rec.verifier)) {
      throw unauthorized("unknown or revoked key, or a wrong secret");
    }
    return { kind: "key", id: rec.id, cluster_admin: rec.cluster_admin, scopes: rec.scopes };
  }

  /** Whether anyone may read `domain` without a key (its anonymous_read flag; absent means no). */
  async anonymousRead(domain: string): Promise<boolean> {
    return (await this.anonymousDomains()).has(domain);
  }

  /** A key was revoked (or changed): the next request using it looks it up again. */
  forgetKey(id?: string): void {
    this.keyEpoch++;
    if (id === undefined) { this.keys.clear(); this.pending.clear(); return; }
    this.keys.delete(id);
    this.pending.delete(id);
  }

  /** Domains changed: their anonymous_read flags are read again. */
  forgetDomains(): void {
    this.domainEpoch++;
    this.domains = null;
    this.domainsPending = null;
  }

  private lookup(id: string): Promise<Lookup | null> {
    const hit = this.keys.get(id);
    if (hit && hit.until > Date.now()) return Promise.resolve(hit.rec);
    const inflight = this.pending.get(id);
    if (inflight) return inflight;
    const epoch = this.keyEpoch;
    const p: Promise<Lookup | null> = this.client.rpc("key_lookup", { id }, 5_000).then(
      (rec) => {
        if (epoch === this.keyEpoch) this.remember(id, rec);
        return rec;
      },
      (err) => {
        // no such key: refused, and not cached (a key created a moment later must work at once)
        if (err instanceof MogileError && err.code === "unknown_access_key") return null;
        // anything else (no tracker answers) is the cluster's failure, not a bad key: 503/504
        throw err;
      },
    ).finally(() => { if (this.pending.get(id) === p) this.pending.delete(id); });
    this.pending.set(id, p);
    return p;
  }

  private remember(id: string, rec: Lookup): void {
    if (this.keys.size >= MAX_CACHED_KEYS) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(id, { rec, until: Date.now() + this.o.keyCacheMs });
  }

  private anonymousDomains(): Promise<Set<string>> {
    if (this.domains && this.domains.until > Date.now()) return Promise.resolve(this.domains.anonymous);
    if (this.domainsPending) return this.domainsPending;
    const epoch = this.domainEpoch;
    const p = this.client.rpc("get_domains", {}, 5_000).then(({ domains }) => {
      // anonymous_read comes with the domain settings; a tracker without them reports none (= off)
      const anonymous = new Set(domains.filter((d) => d.anonymous_read === true).map((d) => d.domain));
      if (epoch === this.domainEpoch) this.domains = { anonymous, until: Date.now() + this.o.domainCacheMs };
      return anonymous;
    }).finally(() => { if (this.domainsPending === p) this.domainsPending = null; });
    this.domainsPending = p;
    return p;
  }
}

/** Sets the caller on every request it covers; a bad key ends the request with 401 here. */
export function authenticate(auth: Authenticator): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    c.set("auth", auth);
    c.set("principal", await auth.principal(c.req.header("authorization")));
    await next();
  };
}

/**
 * Throws unless the caller may do what `need` says (on `domain`, for domain needs): 401 for an
 * anonymous caller, 403 for a key without the scope.
 */
export async function authorize(c: Context<GatewayEnv>, need: Need, domain?: string): Promise<void> {
  const who = c.get("principal");
  if (who.kind === "key") {
    if (who.cluster_admin) return;
    if (need.kind === "key") return;
    if (need.kind === "cluster") throw forbidden("this needs a cluster-admin key");
    if (domain !== undefined && allows(who, domain, need.access)) return;
    // a key never has less than no key at all
    if (domain !== undefined && need.access === "read" && (await c.get("auth").anonymousRead(domain))) return;
    throw forbidden(domain === undefined ? `this needs ${need.access} access to a domain` : `this key has no ${need.access} access to domain ${domain}`);
  }
  if (need.kind === "domain" && need.access === "read" && domain !== undefined && (await c.get("auth").anonymousRead(domain))) return;
  throw unauthorized("a key is required: Authorization: Bearer <access key id>:<secret>");
}

/** The domains a caller may see (get_domains): all for cluster admins, else those it has a scope on. */
export function visibleDomains<D extends { domain: string }>(c: Context<GatewayEnv>, domains: D[]): D[] {
  const who = c.get("principal");
  return who.kind === "key" ? domains.filter((d) => seesDomain(who, d.domain)) : [];
}

/** What a guard lets through: a Need, no key at all, or per command (POST /v1/rpc/{command}). */
export type GuardNeed = Need | { kind: "open" } | { kind: "command" };
/** Every guard made here with what it needs: a test checks that no route lacks one; the OpenAPI document reads them. */
export const GUARDS = new WeakMap<object, GuardNeed>();
function guard(fn: MiddlewareHandler<GatewayEnv>, need: GuardNeed): MiddlewareHandler<GatewayEnv> {
  GUARDS.set(fn, need);
  return fn;
}

/** Route guards: each /v1 route names the access it needs, before its handler. */
export const need = {
  /**
   * no key: public documentation (the OpenAPI document and its reference page describe the API, hold
   * no cluster data, and are needed before a caller has a key). A key that is sent is still checked.
   */
  open: () => guard(async (_c, next) => { await next(); }, { kind: "open" }),
  /** a cluster-admin key */
  cluster: () => guard(async (c, next) => { await authorize(c, { kind: "cluster" }); await next(); }, { kind: "cluster" }),
  /** any valid key */
  key: () => guard(async (c, next) => { await authorize(c, { kind: "key" }); await next(); }, { kind: "key" }),
  /** `access` on the route's `:domain` */
  domain: (access: KeyAccess) => guard(async (c, next) => { await authorize(c, { kind: "domain", access }, c.req.param("domain")); await next(); }, { kind: "domain", access }),
  /**
   * POST /v1/rpc/{command}: what does not depend on the arguments is checked here (cluster-admin
   * commands; an anonymous caller may only read); the handler checks the domain once it has parsed them.
   */
  command: (needOf: (command: string) => Need) => guard(async (c, next) => {
    const n = needOf(c.req.param("command") ?? "");
    if (n.kind !== "domain") await authorize(c, n);
    else if (c.get("principal").kind === "anonymous" && n.access !== "read") await authorize(c, n);
    await next();
  }, { kind: "command" }),
};
