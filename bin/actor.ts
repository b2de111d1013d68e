#!/usr/bin/env -S npx tsx
// Runs one actor process: `tsx bin/actor.ts <role>`; configuration comes from the environment.
import { runActor, type ActorSpec } from "../actors/runtime/actor.ts";

const roles = ["query", "storage", "replicator", "deleter", "monitor", "reaper", "gateway", "legacy", "fsck", "s3"] as const;
const role = process.argv[2] as (typeof roles)[number];
if (!roles.includes(role)) {
  process.stderr.write(`usage: actor.ts <${roles.join("|")}>\n`);
  process.exit(2);
}
const mod = (await import(`../actors/${role}/index.ts`)) as { spec: ActorSpec };
await runActor(mod.spec);
