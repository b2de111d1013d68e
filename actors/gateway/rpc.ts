// POST /v1/rpc/{command}: every tracker command over HTTP, validated by the same zod schema as over NATS.
import type { Hono } from "hono";
import { MogileError } from "../../protocol/errors.ts";
import { requests, UNSUPPORTED_COMMANDS, type Command, type Request } from "../../protocol/schemas.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { readJson, validate, type GatewayEnv } from "./body.ts";

const unsupported: ReadonlySet<string> = new Set(UNSUPPORTED_COMMANDS);

export function rpcRoutes(app: Hono<GatewayEnv>, client: MogileClient): void {
  app.post("/v1/rpc/:command", async (c) => {
    const command = c.req.param("command");
    if (unsupported.has(command)) throw new MogileError("unsupported_command", `${command} is not supported yet`);
    // an unknown name is a missing resource, not a server fault (httpStatus would say 501)
    if (!Object.hasOwn(requests, command)) return c.json({ error: "unknown_command", message: `no command ${command}` }, 404);
    const name = command as Command;
    // validated here so a bad request never costs a NATS round trip; the query actor checks again
    const args = validate(requests[name], await readJson(c)) as Request<Command>;
    return c.json(await client.rpc(name, args));
  });
}
