// Actor folders stay apart: a file in actors/<role>/ may import its own folder, actors/runtime/ (the
// shared domain module actors/runtime/domain/ included), protocol/ and packages (node:, npm) — never another actor's folder.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ACTORS = path.join(ROOT, "actors");
const SHARED = ["actors/runtime", "protocol"];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.isFile() && e.name.endsWith(".ts") ? [p] : [];
  });
}

/** Every module specifier: static imports and re-exports (also `import type`), and dynamic `import()`. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of source.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Why `spec` may not be imported from `file`, or null when it may. */
function violation(file: string, spec: string): string | null {
  if (!spec.startsWith(".") && !spec.startsWith("/")) return null; // node: and npm packages
  const rel = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep).join("/");
  const role = path.relative(ACTORS, file).split(path.sep)[0];
  if (rel.startsWith(`actors/${role}/`)) return null;
  if (SHARED.some((s) => rel.startsWith(`${s}/`))) return null;
  return rel.startsWith("actors/") ? `imports another actor's folder (${rel})` : `imports outside actors/runtime and protocol (${rel})`;
}

test("imports - the specifier scan finds static, type-only, re-export and dynamic imports", () => {
  const src = `import { a } from "./a.ts";\nimport type { B } from '../b.ts';\nexport { c } from "../../protocol/c.ts";\nimport {\n  d,\n} from "../x/d.ts";\nimport "./side.ts";\nconst e = await import("../y/e.ts");`;
  assert.equal(specifiers(src), ["./a.ts", "../b.ts", "../../protocol/c.ts", "../x/d.ts", "./side.ts", "../y/e.ts"]);
  const f = path.join(ACTORS, "query", "commands", "x.ts");
  assert.is(violation(f, "../context.ts"), null);
  assert.is(violation(f, "../../runtime/mongo.ts"), null);
  assert.is(violation(f, "../../runtime/domain/policy.ts"), null);
  assert.ok(violation(f, "../../domain/policy.ts"), "a folder beside the actors is another actor's folder");
  assert.is(violation(f, "../../../protocol/errors.ts"), null);
  assert.is(violation(f, "zod"), null);
  assert.ok(violation(f, "../../fsck/state.ts"));
  assert.ok(violation(f, "../../../deploy/services.ts"));
});

test("imports - no actor imports another actor's folder", () => {
  const bad: string[] = [];
  for (const file of tsFiles(ACTORS)) {
    const role = path.relative(ACTORS, file).split(path.sep)[0];
    if (role.endsWith(".ts")) { bad.push(`${path.relative(ROOT, file)}: a file directly in actors/ (put it in a folder)`); continue; }
    for (const spec of specifiers(readFileSync(file, "utf8"))) {
      const why = violation(file, spec);
      if (why) bad.push(`${path.relative(ROOT, file)}: ${why}`);
    }
  }
  assert.ok(bad.length === 0, `${bad.length} forbidden imports:\n${bad.join("\n")}`);
});

test.run();
