// REST admin routes: domains, classes, hosts, devices and stats. 201 for creates, 204 for deletes.
// A domain's classes need admin access to that domain; domains themselves, hosts, devices, stats and
// jobs need a cluster-admin key.
import type { Hono } from "hono";
import { z } from "zod";
import { MogileError } from "../../protocol/errors.ts";
import {
  CreateDomain, DeleteDomain, CreateClass, UpdateClass, DeleteClass,
  CreateHost, UpdateHost, DeleteHost, CreateDevice, FailedJobs,
} from "../../protocol/schemas.ts";
import { DevicePatch } from "../../protocol/rest.ts";
import type { MogileClient } from "../../protocol/client.ts";
import { objectBody, validate, type GatewayEnv } from "./body.ts";
import { need, visibleDomains } from "./auth.ts";

const Devid = z.object({ devid: CreateDevice.shape.devid });

export function adminRoutes(app: Hono<GatewayEnv>, client: MogileClient): void {
  // ---- domains and classes ----
  // every key may list the domains it has a scope on
  app.get("/v1/domains", need.key(), async (c) => {
    const reply = await client.rpc("get_domains", {});
    return c.json({ ...reply, domains: visibleDomains(c, reply.domains) });
  });
  app.post("/v1/domains", need.cluster(), async (c) => {
    const { domain } = await objectBody(c, CreateDomain);
    return c.json(await client.createDomain(domain), 201);
  });
  app.delete("/v1/domains/:domain", need.cluster(), async (c) => {
    const { domain } = validate(DeleteDomain, { domain: c.req.param("domain") });
    await client.deleteDomain(domain);
    return c.body(null, 204);
  });

  app.get("/v1/domains/:domain/classes", need.domain("read"), async (c) => {
    const domain = c.req.param("domain");
    const found = (await client.getDomains()).find((d) => d.domain === domain);
    if (!found) throw new MogileError("domain_not_found", `no domain ${domain}`);
    return c.json({ domain, classes: found.classes });
  });
  app.post("/v1/domains/:domain/classes", need.domain("admin"), async (c) => {
    const a = await objectBody(c, CreateClass, { domain: c.req.param("domain") });
    return c.json(await client.rpc("create_class", a), 201);
  });
  app.put("/v1/domains/:domain/classes/:class", need.domain("admin"), async (c) => {
    const a = await objectBody(c, UpdateClass, { domain: c.req.param("domain"), class: c.req.param("class") });
    return c.json(await client.rpc("update_class", a));
  });
  app.delete("/v1/domains/:domain/classes/:class", need.domain("admin"), async (c) => {
    const a = validate(DeleteClass, { domain: c.req.param("domain"), class: c.req.param("class") });
    await client.rpc("delete_class", a);
    return c.body(null, 204);
  });

  // ---- hosts ----
  app.get("/v1/hosts", need.cluster(), async (c) => c.json({ hosts: await client.getHosts() }));
  app.post("/v1/hosts", need.cluster(), async (c) => c.json(await client.rpc("create_host", await objectBody(c, CreateHost)), 201));
  app.patch("/v1/hosts/:host", need.cluster(), async (c) => {
    const a = await objectBody(c, UpdateHost, { host: c.req.param("host") });
    return c.json(await client.rpc("update_host", a));
  });
  app.delete("/v1/hosts/:host", need.cluster(), async (c) => {
    await client.rpc("delete_host", validate(DeleteHost, { host: c.req.param("host") }));
    return c.body(null, 204);
  });

  // ---- devices ----
  app.get("/v1/devices", need.cluster(), async (c) => c.json({ devices: await client.getDevices() }));
  app.post("/v1/devices", need.cluster(), async (c) => c.json(await client.rpc("create_device", await objectBody(c, CreateDevice)), 201));
  app.get("/v1/devices/:devid", need.cluster(), async (c) => {
    const { devid } = validate(Devid, { devid: c.req.param("devid") });
    const [dev] = await client.getDevices(devid);
    if (!dev) throw new MogileError("no_device", `no device ${devid}`);
    return c.json(dev);
  });
  app.patch("/v1/devices/:devid", need.cluster(), async (c) => {
    const { devid } = validate(Devid, { devid: c.req.param("devid") });
    const patch = await objectBody(c, DevicePatch);
    // set_state / set_weight name the device's host, so find it first
    const [dev] = await client.getDevices(devid);
    if (!dev) throw new MogileError("no_device", `no device ${devid}`);
    const [host] = await client.getHosts(dev.hostid);
    if (!host) throw new MogileError("unknown_hostid", `device ${devid} is on unknown host ${dev.hostid}`);
    if (patch.weight !== undefined) await client.setWeight(host.hostname, devid, patch.weight);
    if (patch.state !== undefined) await client.setState(host.hostname, devid, patch.state);
    const [after] = await client.getDevices(devid);
    return c.json(after ?? dev);
  });

  // ---- cluster ----
  app.get("/v1/stats", need.cluster(), async (c) => c.json(await client.stats()));
  app.get("/v1/admin/failed-jobs", need.cluster(), async (c) => {
    return c.json(await client.rpc("failed_jobs", validate(FailedJobs, c.req.query())));
  });
}
