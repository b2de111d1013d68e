// Secrets a cluster generates at its first start, kept in <data dir>/secrets (mode 0700; files 0600).
import { existsSync, mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";

export const secretsDir = (dataDir: string) => path.join(dataDir, "secrets");

/** Create the secrets directory (0700) if needed and return its path. */
export function ensureSecretsDir(dataDir: string): string {
  const dir = secretsDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** Write a file only this user can read, unless it exists; returns its path. */
export function writeSecretOnce(file: string, content: string): string {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    try {
      writeFileSync(file, content, { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return file;
}

/** The cluster key file (32 random bytes, base64url), generated once. */
export function ensureClusterKey(dataDir: string): string {
  ensureSecretsDir(dataDir);
  return writeSecretOnce(path.join(secretsDir(dataDir), "cluster.key"), randomBytes(32).toString("base64url") + "\n");
}
