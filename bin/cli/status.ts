// `mogile check` (mogadm check: the cluster's health at a glance) and `mogile stats` (mogstats).
import { Command } from "commander";
import { printJson, printRecord, withClient } from "./context.ts";
import { devicesWithHosts, printDevices } from "./devices.ts";
import { printHosts } from "./hosts.ts";

function checkCommand(): Command {
  return new Command("check").description("cluster health: tracker, hosts, devices, state, usage (mogadm check)")
    .action(withClient(async ({ client, json }) => {
      const t0 = performance.now();
      await client.rpc("noop", {});
      const trackerMs = Math.round((performance.now() - t0) * 10) / 10;
      const { hosts, devices } = await devicesWithHosts(client);
      const writeable = devices.filter((d) => d.observed_state === "writeable").length;
      const unreachable = devices.filter((d) => d.observed_state === "unreachable").length;
      const unmounted = devices.filter((d) => d.observed_state === "unmounted").length;
      const sum = (f: (d: (typeof devices)[number]) => number | null) => devices.reduce((n, d) => n + (f(d) ?? 0), 0);
      const summary = {
        hosts: hosts.length, devices: devices.length, writeable, unreachable, unmounted,
        mb_total: sum((d) => d.mb_total), mb_used: sum((d) => d.mb_used), mb_free: sum((d) => d.mb_free),
      };
      if (json) return printJson({ tracker: { ok: true, ms: trackerMs }, summary, hosts, devices });
      console.log(`tracker: OK (${trackerMs} ms)`);
      console.log("\nhosts:");
      printHosts(hosts);
      console.log("\ndevices:");
      printDevices(hosts, devices);
      const pct = summary.mb_total ? ` (${((summary.mb_used / summary.mb_total) * 100).toFixed(1)}% used)` : "";
      console.log(`\n${summary.hosts} hosts, ${summary.devices} devices: ${writeable} writeable, ${unreachable} unreachable${unmounted ? `, ${unmounted} unmounted` : ""}; ` +
        `${summary.mb_used} of ${summary.mb_total} MB used, ${summary.mb_free} MB free${pct}`);
    }));
}

function statsCommand(): Command {
  return new Command("stats").description("counts of domains, classes, hosts, devices, files and queued jobs (mogstats)")
    .action(withClient(async ({ client, json }) => {
      const reply = await client.rpc("stats", {});
      if (json) return printJson(reply);
      printRecord(Object.entries(reply).map(([k, v]): [string, number] => [k, v]));
    }));
}

export const statusCommands = (): Command[] => [checkCommand(), statsCommand()];
