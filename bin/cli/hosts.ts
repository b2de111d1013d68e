// `mogile host list|add|modify|mark|delete` (mogadm host …).
import { Command } from "commander";
import { HOST_STATES } from "../../protocol/schemas.ts";
import type { HostInfo } from "../../protocol/index.ts";
import { int, oneOf, printJson, printTable, withClient } from "./context.ts";

interface HostOptions { ip?: string; port?: number; getport?: number; altip?: string; altmask?: string; status?: string }

/** the fields `host add` and `host modify` share */
function hostOptions(cmd: Command): Command {
  return cmd
    .option("--getport <port>", "HTTP port for reads, when it differs from --port", int(1))
    .option("--altip <ip>", "alternate IP (get_paths zone=alt)")
    .option("--altmask <mask>", "netmask of clients that should use --altip")
    .option("--status <status>", `host status: ${HOST_STATES.join(", ")}`, oneOf(HOST_STATES));
}

const pick = (o: HostOptions) => ({
  ...(o.ip !== undefined && { ip: o.ip }),
  ...(o.port !== undefined && { port: o.port }),
  ...(o.getport !== undefined && { getport: o.getport }),
  ...(o.altip !== undefined && { altip: o.altip }),
  ...(o.altmask !== undefined && { altmask: o.altmask }),
  ...(o.status !== undefined && { status: o.status as HostInfo["status"] }),
});

export function printHosts(hosts: HostInfo[]): void {
  printTable(
    ["hostid", "host", "ip", "port", "getport", "altip", "status"],
    hosts.map((h) => [h.hostid, h.hostname, h.hostip, h.http_port, h.http_get_port, h.altip, h.status]),
  );
}

export function hostCommand(): Command {
  const host = new Command("host").description("storage hosts (mogadm host)");

  host.command("list").description("list hosts").action(withClient(async ({ client, json }) => {
    const reply = await client.rpc("get_hosts", {});
    if (json) return printJson(reply);
    printHosts(reply.hosts);
  }));

  hostOptions(host.command("add").description("register a host")
    .argument("<host>", "host name")
    .requiredOption("--ip <ip>", "IP address of the storage agent")
    .requiredOption("--port <port>", "HTTP port of the storage agent", int(1)))
    .action(withClient<HostOptions>(async ({ client, json }, o, name) => {
      const reply = await client.rpc("create_host", { host: name, ip: o.ip!, port: o.port!, ...pick(o) });
      if (json) return printJson(reply);
      console.log(`host ${reply.hostname} added (hostid ${reply.hostid})`);
    }));

  hostOptions(host.command("modify").description("change a host's address, ports or status")
    .argument("<host>", "host name")
    .option("--ip <ip>", "IP address of the storage agent")
    .option("--port <port>", "HTTP port of the storage agent", int(1)))
    .action(withClient<HostOptions>(async ({ client, json }, o, name) => {
      const reply = await client.rpc("update_host", { host: name, ...pick(o) });
      if (json) return printJson(reply);
      console.log(`host ${reply.hostname} updated`);
    }));

  host.command("mark").description("set a host's status")
    .argument("<host>", "host name")
    .argument("<status>", HOST_STATES.join("|"), oneOf(HOST_STATES))
    .action(withClient(async ({ client, json }, _o, name, status) => {
      const reply = await client.rpc("update_host", { host: name, status: status as HostInfo["status"] });
      if (json) return printJson(reply);
      console.log(`host ${name} marked ${status}`);
    }));

  host.command("delete").description("remove a host that has no devices")
    .argument("<host>", "host name")
    .action(withClient(async ({ client, json }, _o, name) => {
      const reply = await client.rpc("delete_host", { host: name });
      if (json) return printJson(reply);
      console.log(`host ${name} deleted`);
    }));

  return host;
}
