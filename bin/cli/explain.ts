// `mogile explain KEY`: why each copy of a file is where it is, whether the file meets its class
// policy, and what would change it (the explain command).
import { Command, Option } from "commander";
import type { Reply } from "../../protocol/index.ts";
import { bytes, printJson, printTable, withClient } from "./context.ts";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");

export function explainCommand(): Command {
  return new Command("explain").description("why each copy of a file is where it is, and whether it meets its class policy")
    .argument("<key>")
    .addOption(new Option("-d, --domain <domain>", "the domain of the key").env("MOGILE_DOMAIN").makeOptionMandatory())
    .action(withClient<{ domain: string }>(async ({ client, json }, o, key) => {
      const r = await client.rpc("explain", { domain: o.domain, key });
      if (json) return printJson(r);
      printExplain(r);
    }));
}

function printExplain(r: Reply<"explain">): void {
  console.log(`${r.domain}/${r.key}: fid ${r.fid}, ${bytes(r.length)}, class ${r.class} (${r.replpolicy}, mindevcount ${r.mindevcount}: ${r.wanted} copies wanted)`);
  console.log(`policy: ${r.policy_state} — ${r.policy_detail}`);
  console.log("");
  printTable(["dev", "host", "zone", "state", "counts", "placed", "why"], r.copies.map((c) => [
    `dev${c.devid}`, c.hostname ?? c.hostid, c.zone, [c.status, c.observed].filter(Boolean).join("/"), c.counts ? "yes" : "no",
    c.placed ? `${c.placed.cause} ${when(c.placed.at)}` : "no record", c.placed?.why ?? "stored before placements were recorded",
  ]));
  const gone = r.history.filter((h) => h.op === "drop");
  if (gone.length) {
    console.log("\ncopies forgotten:");
    printTable(["dev", "cause", "when", "why"], gone.map((h) => [`dev${h.devid}`, h.cause, when(h.at), h.why]));
  }
  if (r.would_change.length) {
    console.log("\nwhat would change it:");
    for (const w of r.would_change) console.log(`  - ${w}`);
  }
}
