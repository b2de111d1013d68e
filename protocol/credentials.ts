// NATS credentials and connection options shared by the SDK, the CLI and every actor.
//
// A cluster's NATS users authenticate with nkeys (nats-server's own mechanism: the server knows only
// public keys). A user's seed lives in a file named `<user>.nk` (mode 0600); the launcher keeps one per
// user in `<data dir>/secrets/nats/`. Each user has its own reply-inbox prefix, `_INBOX_<user>`, so
// no user can read the replies meant for another.
//
// Where credentials come from, first match wins:
//   1. `nkeyFile` (and optionally `user`) given by the caller (CLI flags, ClientOptions)
//   2. MOGILE_NATS_NKEY (path of a seed file) and optionally MOGILE_NATS_USER
//   3. a local cluster's data dir: `${MOGILE_DATA_DIR ?? ./var}/secrets/nats/<user>.nk`
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { nkeyAuthenticator, type ConnectionOptions } from "@nats-io/nats-core";

export interface CredentialOptions {
  /** NATS user name (default: MOGILE_NATS_USER, else the seed file's name, else `defaultUser`) */
  user?: string;
  /** path of the user's nkey seed file */
  nkeyFile?: string;
  /** a local cluster's data dir to look in (default MOGILE_DATA_DIR, else ./var) */
  dataDir?: string;
}

export interface NatsCredentials { user: string; seed: Uint8Array; file: string }

const USER = /^[A-Za-z0-9_-]{1,64}$/;
export const inboxPrefix = (user: string) => `_INBOX_${user}`;
export const seedFile = (secretsDir: string, user: string) => path.join(secretsDir, "nats", `${user}.nk`);

/** The credentials to use, or null when none are configured or found (the server then decides). */
export function findCredentials(o: CredentialOptions, defaultUser: string, env: NodeJS.ProcessEnv = process.env): NatsCredentials | null {
  const explicit = o.nkeyFile ?? env.MOGILE_NATS_NKEY;
  let file: string;
  if (explicit) {
    file = path.resolve(explicit);
  } else {
    const user = o.user ?? env.MOGILE_NATS_USER ?? defaultUser;
    file = seedFile(path.join(path.resolve(o.dataDir ?? env.MOGILE_DATA_DIR ?? "var"), "secrets"), user);
    if (!existsSync(file)) return null;
  }
  const user = o.user ?? env.MOGILE_NATS_USER ?? path.basename(file).replace(/\.nk$/, "");
  if (!USER.test(user)) throw new Error(`NATS user name ${JSON.stringify(user)} is not valid (letters, digits, _ and -)`);
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new Error(`cannot read the NATS credentials ${file}: ${(err as Error).message}`);
  }
  if (!/^SU[A-Z2-7]{56}$/.test(text)) throw new Error(`${file} does not hold a NATS user nkey seed (SU…)`);
  return { user, seed: new TextEncoder().encode(text), file };
}

/** TLS client options from MOGILE_TLS_CA (a CA bundle to trust, for clusters with their own CA). */
export function tlsOptions(env: NodeJS.ProcessEnv = process.env): ConnectionOptions["tls"] | undefined {
  const ca = env.MOGILE_TLS_CA;
  return ca ? { caFile: ca } : undefined;
}

/** Connection options carrying the credentials (if any), the user's inbox prefix and TLS. */
export function natsAuthOptions(creds: NatsCredentials | null, env: NodeJS.ProcessEnv = process.env): Partial<ConnectionOptions> {
  const tls = tlsOptions(env);
  return {
    ...(creds ? { authenticator: nkeyAuthenticator(creds.seed), inboxPrefix: inboxPrefix(creds.user) } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** NATS refused the connection's credentials (or their absence). */
export class NatsAuthError extends Error {
  override name = "NatsAuthError";
}

/** A connect error, said so an operator knows what to fix. */
export function explainConnectError(err: unknown, servers: string, creds: NatsCredentials | null): Error {
  const text = String((err as Error)?.message ?? err);
  if (/authorization|authentication|permissions/i.test(text) || (err as { code?: string }).code === "AUTHORIZATION_VIOLATION") {
    const who = creds ? `user ${creds.user} (${creds.file})` : "no credentials";
    const hint = creds
      ? "the seed file does not belong to this cluster, or the user was removed"
      : "set MOGILE_NATS_NKEY to a user's seed file, pass --nkey, or run from the directory holding the cluster's var/ (its seeds are in var/secrets/nats/)";
    return new NatsAuthError(`NATS at ${servers} refused ${who}: ${text}; ${hint}`);
  }
  return err instanceof Error ? err : new Error(text);
}
