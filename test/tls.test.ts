// TLS: with a certificate from a throwaway CA this test makes itself, nats-server, the gateway and
// the storage agents serve TLS only; clients that trust the CA work, others are refused.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import http from "node:http";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { startTestCluster, type TestCluster } from "./helpers/cluster.ts";
import { tempDir } from "./helpers/until.ts";
import { MogileClient } from "../protocol/index.ts";
import { findCredentials, natsAuthOptions } from "../protocol/credentials.ts";

interface Ctx { tc: TestCluster; dir: string; ca: string; caBefore: string | undefined }
const t = suite<Ctx>("tls");

/** A CA and a server certificate for 127.0.0.1 / localhost, signed by it (openssl). */
function makeCa(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mogile test CA", "-keyout", f("ca.key"), "-out", f("ca.pem"));
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr"));
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  ssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("ext.cnf"), "-out", f("server.pem"));
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

t.before(async (ctx) => {
  ctx.dir = tempDir("tls-ca");
  const { ca, cert, key } = makeCa(ctx.dir);
  ctx.ca = ca;
  // the SDK's HTTP client in this process trusts the cluster's CA the way an app would be told to
  ctx.caBefore = process.env.MOGILE_TLS_CA;
  process.env.MOGILE_TLS_CA = ca;
  ctx.tc = await startTestCluster("tls", { env: { MOGILE_TLS_CERT: cert, MOGILE_TLS_KEY: key, MOGILE_TLS_CA: ca } });
});
t.after(async (ctx) => {
  await ctx.tc?.stop();
  if (ctx.caBefore === undefined) delete process.env.MOGILE_TLS_CA; else process.env.MOGILE_TLS_CA = ctx.caBefore;
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

t("files go in and out over TLS, and every URL the cluster hands out is https", async ({ tc }) => {
  await tc.client.createDomain("tls");
  const body = Buffer.alloc(100_000, 7);
  const put = await tc.client.put("tls", "k", body);
  assert.match(put.path, /^https:\/\/127\.0\.0\.1:\d+\/dev\d+\//);
  const got = await tc.client.get("tls", "k");
  const chunks: Buffer[] = [];
  for await (const c of got.body) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(body));
  const { paths } = await tc.client.getPaths("tls", "k");
  assert.ok(paths.length >= 1 && paths.every((p) => p.startsWith("https://")), paths.join(" "));
  assert.match(tc.cluster.httpUrl, /^https:/);
});

t("NATS refuses a client that does not use TLS or does not trust the CA", async ({ tc, ca }) => {
  const creds = findCredentials({ nkeyFile: tc.cluster.credsFile("admin") }, "admin");
  const plain = await connect({ servers: tc.cluster.natsUrl, timeout: 3_000, reconnect: false, ...natsAuthOptions(creds, {}) }).then(
    (nc) => { void nc.close(); return null; }, (e: Error) => e);
  assert.ok(plain, "a client without TLS must not connect");
  const untrusting = await connect({ servers: tc.cluster.natsUrl, timeout: 3_000, reconnect: false, ...natsAuthOptions(creds, {}), tls: {} }).then(
    (nc) => { void nc.close(); return null; }, (e: Error) => e);
  assert.ok(untrusting, "a client that does not trust the CA must not connect");
  const ok = await MogileClient.connect({ servers: tc.cluster.natsUrl, nkeyFile: tc.cluster.credsFile("admin"), caFile: ca });
  assert.ok((await ok.getDomains()).length >= 1);
  await ok.close();
});

t("the gateway and storage serve only TLS, with the cluster's certificate", async ({ tc, ca }) => {
  const status = (url: string, opts: https.RequestOptions = {}) => new Promise<number | string>((resolve) => {
    const mod = url.startsWith("https:") ? https : http;
    const req = mod.request(url, { method: "GET", timeout: 5_000, agent: false, ...opts }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on("error", (e) => resolve(e.message));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
  const gw = tc.cluster.httpUrl;
  const key = readFileSync(path.join(tc.dataDir, "secrets", "admin.key"), "utf8").trim();
  assert.is(await status(`${gw}/v1/domains`, { ca: readFileSync(ca), headers: { authorization: `Bearer ${key}` } }), 200);
  // plain HTTP to the TLS port gets no HTTP answer; an untrusted certificate is refused by the client
  assert.is.not(await status(gw.replace("https:", "http:") + "/v1/domains"), 200);
  assert.match(String(await status(`${gw}/v1/domains`, { headers: { authorization: `Bearer ${key}` } })), /certificate/);
  const st = tc.cluster.storage[0].url;
  assert.match(st, /^https:/);
  assert.is.not(await status(st.replace("https:", "http:") + "/"), 200);
});

t.run();
