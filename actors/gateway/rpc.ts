// POST /v1/rpc/{command}: every tracker command over HTTP, validated by the same zod schema as over
// NATS, each with the access actors/gateway/access.ts gives it.
import type { Hono } from "hono";
import { MogileError } from "../../protocol/errors.ts";
import { requests, UNSUPPORTED_COMMANDS, type Command, type Request } from "../../protocol/schemas.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { readJson, ValidationError, type GatewayEnv } from "./body.ts";
import { dropEmpty, parseCommand } from "../../protocol/validate.ts";
import { authorize, need, visibleDomains } from "./auth.ts";
import { rpcNeed } from "./access.ts";

const unsupported: ReadonlySet<string> = new Set(UNSUPPORTED_COMMANDS);

export function rpcRoutes(app: Hono<GatewayEnv>, client: MogileClient): void {
  app.post("/v1/rpc/:command", need.command(rpcNeed), async (c) => {
    const command = c.req.param("command");
    // sealed secrets are for the S3 actor only, never handed out over HTTP
    if (command === "key_secret") throw new MogileError("forbidden", "key_secret is not available over HTTP");
    if (unsupported.has(command)) throw new MogileError("unsupported_command", `${command} is not supported yet`);
    // an unknown name is a missing resource, not a server fault (httpStatus would say 501)
    if (!Object.hasOwn(requests, command)) return c.json({ error: "unknown_command", message: `no command ${command}` }, 404);
    const name = command as Command;
    // validated here, exactly as the query actor does (same codes), so a bad request never costs
    // a NATS round trip; the query actor checks again
    const raw = await readJson(c);
    let args: Request<Command>;
    try {
      args = parseCommand(name, raw) as Request<Command>;
    } catch (err) {
      const r = requests[name].safeParse(dropEmpty(raw));
      const issues = r.success ? [] : r.error.issues.map((i) => ({ path: i.path.map(String).join("."), code: i.code, message: i.message }));
      if (err instanceof MogileError) throw new ValidationError(issues, err.code, err.message);
      throw err;
    }
    const n = rpcNeed(name);
    if (n.kind === "domain") {
      // the domain the command acts on, as validated (every domain command requires one)
      const domain = (args as { domain?: unknown }).domain;
      await authorize(c, n, typeof domain === "string" ? domain : undefined);
    }
    const reply = await client.rpc(name, args);
    if (name === "get_domains") {
      const r = reply as { domains: { domain: string }[] };
      return c.json({ ...r, domains: visibleDomains(c, r.domains) });
    }
    return c.json(reply);
  });
}
