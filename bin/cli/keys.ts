// `mogile key add|list|revoke`: gateway keys (HTTP `Authorization: Bearer <id>:<secret>`), over NATS.
import { Command, Option } from "commander";
import { KEY_ACCESS, type KeyInfo, type KeyScope } from "../../protocol/schemas.ts";
import { printJson, printRecord, printTable, withClient } from "./context.ts";

interface AddOptions { domain?: string[]; access?: (typeof KEY_ACCESS)[number]; clusterAdmin?: boolean; name?: string }

const collect = (v: string, acc: string[] = []) => [...acc, v];
const scopesText = (k: KeyInfo) => [k.cluster_admin ? "cluster-admin" : "", ...k.scopes.map((s) => `${s.domain}:${s.access}`)].filter(Boolean).join(",");

export function keyCommand(): Command {
  const key = new Command("key").description("gateway keys: per-domain read/write/admin, or cluster-admin (HTTP Authorization: Bearer <id>:<secret>)");

  key.command("add").description("create a key; its secret is printed this once")
    .option("--domain <domain>", "a domain the key may use (repeat for several)", collect)
    .addOption(new Option("--access <level>", "what it may do there: read (get, list), write (also put, delete, rename), admin (also classes)").choices(KEY_ACCESS))
    .option("--cluster-admin", "every domain and every admin route and command")
    .option("--name <text>", "what the key is for")
    .addHelpText("after", "\nExamples:\n  mogile key add --domain photos --access write --name web-app\n  mogile key add --cluster-admin --name ops")
    // usage errors (exit 2) before anything connects
    .hook("preAction", (cmd) => {
      const o = cmd.opts<AddOptions>();
      const domains = o.domain ?? [];
      if (domains.length && !o.access) cmd.error("error: --domain needs --access read|write|admin");
      if (!domains.length && o.access) cmd.error("error: --access needs --domain");
      if (!domains.length && !o.clusterAdmin) cmd.error("error: give --domain D --access LEVEL, or --cluster-admin");
    })
    .action(withClient<AddOptions>(async ({ client, json }, o) => {
      const scopes: KeyScope[] = (o.domain ?? []).map((domain) => ({ domain, access: o.access! }));
      const reply = await client.addKey({ name: o.name, scopes, clusterAdmin: o.clusterAdmin === true });
      if (json) return printJson(reply);
      printRecord([["id", reply.id], ["secret", reply.secret], ["name", reply.name], ["scopes", scopesText(reply)]]);
      process.stderr.write(`the secret is shown only now; send the key as: Authorization: Bearer ${reply.id}:<secret>\n`);
    }));

  key.command("list").description("list keys (never their secrets)")
    .option("--domain <domain>", "only keys scoped to this domain")
    .option("--all", "revoked keys too")
    .action(withClient<{ domain?: string; all?: boolean }>(async ({ client, json }, o) => {
      const keys = await client.listKeys({ domain: o.domain, includeRevoked: o.all === true });
      if (json) return printJson({ keys });
      printTable(["id", "name", "scopes", "created", "revoked"],
        keys.map((k) => [k.id, k.name, scopesText(k), k.created, k.revoked ? k.revoked_at ?? "yes" : ""]));
    }));

  key.command("revoke").description("revoke a key for good (gateways refuse it within seconds)")
    .argument("<id>", "the access key id")
    .action(withClient(async ({ client, json }, _o, id) => {
      const reply = await client.revokeKey(id);
      if (json) return printJson(reply);
      console.log(`key ${reply.id} revoked`);
    }));

  return key;
}
