// File tools: `mogile put|get|rm|info|ls` (mogupload, mogfetch, mogdelete, mogfileinfo, moglistkeys).
import { createReadStream, createWriteStream } from "node:fs";
import { rename, stat, unlink } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { pipeline as pipe, type Readable } from "node:stream";
import { Command, Option } from "commander";
import { MogileError, type MogileClient, type Reply } from "../../protocol/index.ts";
import { bytes, int, printJson, printRecord, withClient } from "./context.ts";
import { progress } from "./progress.ts";

interface DomainOptions { domain: string }
interface BarOptions { progress?: boolean }

const domainOption = () => new Option("-d, --domain <domain>", "the domain of the key").env("MOGILE_DOMAIN").makeOptionMandatory();
const barOptions = (cmd: Command) => cmd
  .option("--progress", "always show a progress bar on stderr (default: files over 4 MiB, on a terminal)")
  .option("--no-progress", "never show a progress bar");

function putCommand(): Command {
  return barOptions(new Command("put").description("store a file under a key (mogupload)")
    .argument("<file>", "file to upload, or - for stdin")
    .argument("<key>", "the key to store it under")
    .addOption(domainOption())
    .option("-c, --class <class>", "replication class (default: the domain's default class)"))
    .action(withClient<DomainOptions & BarOptions & { class?: string }>(async ({ client, json }, o, file, key) => {
      let src: Readable;
      let size: number | undefined;
      if (file === "-") {
        src = process.stdin;
      } else {
        const st = await stat(file);
        if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: "EISDIR" });
        size = st.size;
        src = createReadStream(file, { highWaterMark: 1 << 20 });
      }
      const bar = progress("put", size, o.progress);
      // a read error destroys the counting stream too, which fails the upload
      const body = pipe(src, bar.stream, () => {});
      try {
        const reply = await client.put(o.domain, key, body, { class: o.class, size });
        bar.stop();
        if (json) return printJson(reply);
        console.log(`stored ${o.domain}/${reply.key}: fid ${reply.fid}, ${bytes(reply.length)}`);
      } finally {
        bar.stop();
      }
    }));
}

function getCommand(): Command {
  return barOptions(new Command("get").description("fetch a key's bytes (mogfetch)")
    .argument("<key>", "the key to fetch")
    .argument("[dest]", "file to write, or - for stdout (default)")
    .addOption(domainOption()))
    .action(withClient<DomainOptions & BarOptions>(async ({ client, json }, o, key, dest) => {
      const res = await client.get(o.domain, key);
      const bar = progress("get", res.contentLength, o.progress);
      try {
        if (dest === undefined || dest === "-") {
          // stdout carries the bytes, so --json has nothing else to say here
          await pipeline(res.body, bar.stream, process.stdout, { end: false });
          return;
        }
        // write beside the target and rename, so a failed fetch never leaves a truncated file
        const part = `${dest}.mogile-part`;
        try {
          await pipeline(res.body, bar.stream, createWriteStream(part));
          await rename(part, dest);
        } catch (err) {
          await unlink(part).catch(() => {});
          throw err;
        }
        if (bar.count !== res.contentLength) throw new MogileError("read_failed", `got ${bar.count} of ${res.contentLength} bytes`);
        bar.stop();
        if (json) return printJson({ domain: o.domain, key, length: bar.count, path: res.path, dest });
        console.log(`fetched ${o.domain}/${key} to ${dest}: ${bytes(bar.count)}`);
      } finally {
        bar.stop();
      }
    }));
}

function rmCommand(): Command {
  return new Command("rm").description("delete a key (mogdelete)")
    .argument("<key>")
    .addOption(domainOption())
    .action(withClient<DomainOptions>(async ({ client, json }, o, key) => {
      const reply = await client.rpc("delete", { domain: o.domain, key });
      if (json) return printJson(reply);
      console.log(`deleted ${o.domain}/${key}`);
    }));
}

function infoCommand(): Command {
  return new Command("info").description("show a key's fid, class, length, devices and paths (mogfileinfo)")
    .argument("<key>")
    .addOption(domainOption())
    .action(withClient<DomainOptions>(async ({ client, json }, o, key) => {
      const [info, paths] = await Promise.all([
        client.rpc("file_info", { domain: o.domain, key, devices: true }),
        client.getPaths(o.domain, key, { pathcount: 10 }),
      ]);
      if (json) return printJson({ ...info, paths: paths.paths });
      printRecord([
        ["key", info.key], ["domain", info.domain], ["class", info.class], ["fid", info.fid],
        ["length", `${info.length} (${bytes(info.length)})`], ["devcount", info.devcount],
        ["devids", info.devids?.map((d) => `dev${d}`).join(", ")], ["checksum", info.checksum],
        ...paths.paths.map((p, i): [string, string] => [`path ${i + 1}`, p]),
      ]);
    }));
}

/** Pages through list_keys until `limit` keys (or all of them) have been seen; none_match ends it. */
async function listKeys(client: MogileClient, domain: string, prefix: string, after: string | undefined, limit: number | undefined) {
  const keys: string[] = [];
  let next = after;
  for (;;) {
    const want = Math.min(1000, limit === undefined ? 1000 : limit - keys.length);
    let page: Reply<"list_keys">;
    try {
      page = await client.rpc("list_keys", { domain, prefix, ...(next !== undefined && { after: next }), limit: want });
    } catch (err) {
      if (err instanceof MogileError && err.code === "none_match") break;
      throw err;
    }
    keys.push(...page.keys);
    next = page.next_after || page.keys.at(-1);
    if (page.keys.length < want || (limit !== undefined && keys.length >= limit) || next === undefined) break;
  }
  return { keys, key_count: keys.length, next_after: keys.at(-1) ?? "" };
}

function lsCommand(): Command {
  return new Command("ls").description("list keys, one a line (moglistkeys)")
    .addOption(domainOption())
    .option("-p, --prefix <prefix>", "only keys starting with this", "")
    .option("-a, --after <key>", "only keys after this one (for paging)")
    .option("-n, --limit <n>", "at most this many keys (default: all)", int(1))
    .action(withClient<DomainOptions & { prefix: string; after?: string; limit?: number }>(async ({ client, json }, o) => {
      const reply = await listKeys(client, o.domain, o.prefix, o.after, o.limit);
      if (json) return printJson(reply);
      if (reply.keys.length) process.stdout.write(reply.keys.join("\n") + "\n");
    }));
}

export const fileCommands = (): Command[] => [putCommand(), getCommand(), rmCommand(), infoCommand(), lsCommand()];
