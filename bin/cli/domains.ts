// `mogile domain list|add|delete` and `mogile class list|add|modify|delete` (mogadm domain/class …).
import { Command, InvalidArgumentError } from "commander";
import { HASH_TYPES, replPolicy, type HashType } from "../../protocol/schemas.ts";
import { MogileError } from "../../protocol/index.ts";
import { int, oneOf, printJson, printTable, withClient } from "./context.ts";
import { printDryRun } from "./dry_run.ts";

/** `on`/`off` (also true/false, yes/no, 1/0) */
const onOff = (v: string): boolean => {
  if (/^(on|true|yes|1)$/i.test(v)) return true;
  if (/^(off|false|no|0)$/i.test(v)) return false;
  throw new InvalidArgumentError("expected on or off");
};

interface ClassOptions { mindevcount?: number; replpolicy?: string; hashtype?: HashType; asyncCopies?: boolean }

export function domainCommand(): Command {
  const domain = new Command("domain").description("namespaces of keys (mogadm domain)");

  domain.command("list").description("list domains and their classes")
    .action(withClient(async ({ client, json }) => {
      const reply = await client.rpc("get_domains", {});
      if (json) return printJson(reply);
      const access = (d: { signed_get: boolean; anonymous_read: boolean }) =>
        [d.signed_get && "signed_get", d.anonymous_read && "anonymous_read"].filter(Boolean).join(",");
      const rows = reply.domains.flatMap((d) => (d.classes.length ? d.classes : [null]).map((c) =>
        [d.domain, c?.class, c?.mindevcount, c?.replpolicy, c?.hashtype, access(d)]));
      printTable(["domain", "class", "mindevcount", "replpolicy", "hashtype", "access"], rows);
    }));

  domain.command("modify").description("change a domain's access options; options left out keep their value")
    .argument("<domain>")
    .option("--signed-get <on|off>", "reads need signed URLs (files stored from now on)", onOff)
    .option("--anonymous-read <on|off>", "the HTTP gateway serves reads without an API key", onOff)
    .action(withClient<{ signedGet?: boolean; anonymousRead?: boolean }>(async ({ client, json }, o, name) => {
      const reply = await client.updateDomain(name, {
        ...(o.signedGet !== undefined && { signed_get: o.signedGet }),
        ...(o.anonymousRead !== undefined && { anonymous_read: o.anonymousRead }),
      });
      if (json) return printJson(reply);
      console.log(`domain ${reply.domain}: signed_get ${reply.signed_get ? "on" : "off"}, anonymous_read ${reply.anonymous_read ? "on" : "off"}`);
    }));

  domain.command("add").description("create a domain")
    .argument("<domain>")
    .action(withClient(async ({ client, json }, _o, name) => {
      const reply = await client.rpc("create_domain", { domain: name });
      if (json) return printJson(reply);
      console.log(`domain ${reply.domain} created`);
    }));

  domain.command("delete").description("delete an empty domain (no files, no classes)")
    .argument("<domain>")
    .action(withClient(async ({ client, json }, _o, name) => {
      const reply = await client.rpc("delete_domain", { domain: name });
      if (json) return printJson(reply);
      console.log(`domain ${reply.domain} deleted`);
    }));

  return domain;
}

const classOptions = (cmd: Command, mindevcountHelp: string) => cmd
  .option("--mindevcount <n>", mindevcountHelp, int(1))
  .option("--replpolicy <policy>", "MultipleHosts() or MultipleDevices(N)")
  .option("--hashtype <type>", `checksum kept for files: ${HASH_TYPES.join(", ")}`, oneOf(HASH_TYPES))
  .option("--async-copies <on|off>", "on: acknowledge after the first copy and let the replicator make the others (MogileFS); off (default): every copy is written before the ack", onOff);

const optional = (o: ClassOptions) => ({
  ...(o.replpolicy !== undefined && { replpolicy: o.replpolicy }),
  ...(o.hashtype !== undefined && { hashtype: o.hashtype }),
  ...(o.asyncCopies !== undefined && { async_copies: o.asyncCopies }),
});

export function classCommand(): Command {
  const cls = new Command("class").description("replication classes of a domain (mogadm class)");

  cls.command("list").description("list classes")
    .argument("[domain]", "only this domain's classes")
    .action(withClient(async ({ client, json }, _o, only) => {
      const { domains } = await client.rpc("get_domains", {});
      const rows = domains.filter((d) => only === undefined || d.domain === only)
        .flatMap((d) => d.classes.map((c) => ({ domain: d.domain, ...c })));
      if (json) return printJson({ classes: rows });
      printTable(["domain", "class", "mindevcount", "replpolicy", "hashtype"],
        rows.map((r) => [r.domain, r.class, r.mindevcount, r.replpolicy, r.hashtype]));
    }));

  classOptions(cls.command("add").description("create a class")
    .argument("<domain>").argument("<class>"), "copies to keep (default 2)")
    .action(withClient<ClassOptions>(async ({ client, json }, o, domain, name) => {
      const reply = await client.rpc("create_class", { domain, class: name, mindevcount: o.mindevcount ?? 2, ...optional(o) });
      if (json) return printJson(reply);
      console.log(`class ${reply.class} created in ${reply.domain} (mindevcount ${reply.mindevcount})`);
    }));

  classOptions(cls.command("modify").description("change a class; options left out keep their value")
    .argument("<domain>").argument("<class>"), "copies to keep")
    .option("--dry-run", "change nothing: report how many files and bytes would gain or lose copies")
    .action(withClient<ClassOptions & { dryRun?: boolean }>(async ({ client, json }, o, domain, name) => {
      // update_class takes the whole class: fill what was left out from the current definition
      const { domains } = await client.rpc("get_domains", {});
      const d = domains.find((x) => x.domain === domain);
      if (!d) throw new MogileError("domain_not_found");
      const c = d.classes.find((x) => x.class === name);
      if (!c) throw new MogileError("class_not_found");
      const current: ClassOptions = {
        mindevcount: c.mindevcount,
        ...(replPolicy.safeParse(c.replpolicy).success && { replpolicy: c.replpolicy }),
        ...((HASH_TYPES as readonly string[]).includes(c.hashtype) && { hashtype: c.hashtype as HashType }),
      };
      const mindevcount = o.mindevcount ?? c.mindevcount;
      const reply = await client.rpc("update_class", { domain, class: name, mindevcount, ...optional(current), ...optional(o), ...(o.dryRun && { dry_run: true }) });
      if (json) return printJson(reply);
      if (reply.dry_run) return printDryRun(reply.domain, reply.class, reply.mindevcount, reply.dry_run);
      console.log(`class ${reply.class} in ${reply.domain} updated (mindevcount ${reply.mindevcount})`);
    }));

  cls.command("delete").description("delete a class that has no files")
    .argument("<domain>").argument("<class>")
    .action(withClient(async ({ client, json }, _o, domain, name) => {
      const reply = await client.rpc("delete_class", { domain, class: name });
      if (json) return printJson(reply);
      console.log(`class ${name} deleted from ${domain}`);
    }));

  return cls;
}
