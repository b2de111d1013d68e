// The dashboard page (GET /ui): one self-contained HTML document, its script and stylesheet inline and
// allowed by hash in a strict Content-Security-Policy; it fetches nothing but this gateway's own API.
// It holds no cluster data: it asks for a cluster-admin key, keeps it in sessionStorage, and reads
// /ui/api/events (Server-Sent Events read with fetch, which can send the Authorization header).
import { createHash } from "node:crypto";

const STYLE = `
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--mute:#6e7781;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{display:flex;gap:1em;align-items:center;background:#24292f;color:#fff;padding:.6em 1.2em}
header h1{font-size:17px;margin:0;font-weight:600}header .sp{flex:1}header button{font:inherit}
#conn{padding:.1em .6em;border-radius:1em;background:var(--mute);font-size:12px}
#conn.live{background:var(--ok)}#conn.reconnecting{background:var(--bad)}
main{padding:1em 1.2em;max-width:1400px;margin:0 auto}h2{font-size:15px;margin:1.4em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
#login{max-width:560px;margin:4em auto;padding:1.5em;border:1px solid var(--line);border-radius:6px}
#login input{width:100%;font:13px ui-monospace,monospace;padding:.4em;margin:.5em 0}
.err{color:var(--bad)}.mute{color:var(--mute)}
#summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.6em}
.card{border:1px solid var(--line);border-radius:6px;padding:.5em .7em;background:var(--bg)}
.card .v{font-size:20px;font-weight:600}.card .l{color:var(--mute);font-size:12px}
.hosts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:.8em}
.host{border:1px solid var(--line);border-radius:6px;padding:.5em .7em}
.host h3{margin:0 0 .4em;font-size:14px;display:flex;gap:.5em;align-items:center;flex-wrap:wrap}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2em .4em;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-weight:600;color:var(--mute);font-size:12px}
.b{display:inline-block;padding:0 .5em;border-radius:1em;font-size:12px;color:#fff;background:var(--mute)}
.b.alive,.b.writeable,.b.meets,.b.up,.b.yes{background:var(--ok)}.b.readonly,.b.readable,.b.drain,.b.surplus,.b.waiting{background:var(--warn)}
.b.down,.b.dead,.b.unreachable,.b.unmounted,.b.below,.b.no_copy,.b.no{background:var(--bad)}
.bar{position:relative;height:14px;min-width:140px;background:#eaeef2;border-radius:3px;overflow:hidden}
.bar>div{height:100%;background:#0969da}.bar>div.hi{background:var(--bad)}.bar>div.mid{background:var(--warn)}
.bar>span{position:absolute;inset:0;font-size:11px;line-height:14px;text-align:center}
#events{list-style:none;padding:0;margin:0;max-height:320px;overflow:auto;font-size:13px}#events li{padding:.15em 0;border-bottom:1px solid #eaeef2}
#procs .b{margin:.1em}.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.2em}
#lookup{display:flex;gap:.5em;flex-wrap:wrap}#lookup input{font:inherit;padding:.25em .4em}
code{font:12px ui-monospace,monospace}
`;

const SCRIPT = `"use strict";
const $ = (s) => document.querySelector(s);
const KEY = "mogile.dashboard.key";
let key = sessionStorage.getItem(KEY);
let stream = null;
let last = null;
const events = [];
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v; else if (k === "width") el.style.width = v; else el.setAttribute(k, String(v));
  }
  for (const c of kids.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const badge = (v, cls) => h("span", { class: "b " + (cls || v || "none") }, v === null || v === undefined ? "unknown" : String(v));
const gb = (mb) => mb === null || mb === undefined ? "?" : (mb / 1024).toFixed(mb < 10240 ? 2 : 1) + " GB";
const num = (n) => n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
const secs = (s) => s === null || s === undefined ? "–" : s < 1 ? (s * 1000).toFixed(0) + " ms" : s.toFixed(s < 10 ? 2 : 0) + " s";
const plural = (n, w) => num(n) + " " + w + (n === 1 ? "" : w.endsWith("s") ? "es" : "s");
const time = (ms) => new Date(ms).toLocaleTimeString("en-GB");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function showLogin(msg) {
  $("#login").hidden = false; $("#main").hidden = true; $("#logout").hidden = true;
  $("#login-error").textContent = msg || "";
}
function setConn(state) { const c = $("#conn"); c.textContent = state; c.className = state; c.dataset.state = state; }

async function api(path) {
  const res = await fetch(path, { headers: { authorization: "Bearer " + key }, cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || body.error || "HTTP " + res.status);
  return body;
}

async function connect() {
  $("#login").hidden = true; $("#main").hidden = false; $("#logout").hidden = false;
  if (stream) stream.abort();
  const ac = new AbortController();
  stream = ac;
  api("/v1/domains").then((d) => { $("#domains").replaceChildren(...d.domains.map((x) => h("option", { value: x.domain }))); }, () => {});
  let delay = 1000;
  while (!ac.signal.aborted) {
    setConn("connecting");
    try {
      const res = await fetch("/ui/api/events", { headers: { authorization: "Bearer " + key }, signal: ac.signal, cache: "no-store" });
      if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem(KEY); key = null;
        showLogin(res.status === 401 ? "That key is unknown, revoked, or has another secret." : "The dashboard needs a cluster-admin key.");
        return;
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      setConn("live"); delay = 1000;
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\\n\\n")) >= 0) { handle(buf.slice(0, i)); buf = buf.slice(i + 2); }
      }
    } catch (e) { if (ac.signal.aborted) return; }
    setConn("reconnecting");
    await sleep(delay);
    delay = Math.min(delay * 2, 15000);
  }
}

function handle(chunk) {
  let ev = "message", data = "";
  for (const line of chunk.split("\\n")) {
    if (line.startsWith("event:")) ev = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
  }
  if (!data) return;
  const d = JSON.parse(data);
  if (ev === "state") renderState(d); else if (ev === "event") addEvent(d);
}

function card(label, value, sub, id) {
  return h("div", { class: "card", id }, h("div", { class: "v" }, value), h("div", { class: "l" }, label), sub ? h("div", { class: "l" }, sub) : null);
}

function usage(d) {
  if (!d.mb_total) return h("span", { class: "mute" }, "no heartbeat yet");
  // what mogile can use: used plus free (as mogstored's usage page); the filesystem's size also
  // counts blocks reserved for root and, on a shared disk, what others use
  const cap = d.mb_free != null ? d.mb_used + d.mb_free : d.mb_total;
  const pct = cap > 0 ? d.mb_used / cap * 100 : 100;
  const fill = h("div", { class: pct > 90 ? "hi" : pct > 75 ? "mid" : "", width: Math.min(100, pct).toFixed(1) + "%" });
  return h("div", { class: "bar", title: gb(d.mb_used) + " used, " + gb(d.mb_free ?? 0) + " free, filesystem " + gb(d.mb_total) }, fill, h("span", {}, gb(d.mb_used) + " / " + gb(cap) + " (" + pct.toFixed(1) + "%)"));
}

function renderState(s) {
  last = s;
  $("#updated").textContent = "updated " + time(s.at);
  $("#errors").replaceChildren(...s.errors.map((e) => h("div", { class: "err" }, e)));
  const st = s.stats || {}, m = s.metrics, f = s.fsck, r = s.rebalance;
  const q = (kind) => m && m.queues[kind] ? m.queues[kind] : null;
  const queueSub = (kind) => { const x = q(kind); return x ? num(x.ack_pending || 0) + " in progress, " + num(x.redelivered || 0) + " retried" : ""; };
  const lag = m ? m.replication_lag : null;
  const fsckText = !f ? "–" : f.running ? "running" : f.start_time ? "stopped" : "never run";
  const fsckSub = f ? num(f.checked) + " checked" + (f.remaining !== null ? ", " + num(f.remaining) + " left" : "") + (f.running ? ", " + num(Math.round(f.rate)) + "/s" : "") : "";
  $("#summary").replaceChildren(
    card("files", num(st.files), plural(st.domains, "domain") + ", " + plural(st.classes, "class"), "c-files"),
    card("hosts / devices", num(s.hosts.length) + " / " + num(s.devices.length), s.devices.filter((d) => d.observed_state === "writeable").length + " devices writeable", "c-devs"),
    card("replicate queue", num(st.replicate_queue), queueSub("replicate"), "c-replq"),
    card("delete queue", num(st.delete_queue), queueSub("delete"), "c-delq"),
    card("replication lag p50 / p95", lag && lag.count ? secs(lag.p50_s) + " / " + secs(lag.p95_s) : "–", lag ? num(lag.count) + " files since start" : "", "c-lag"),
    card("recovery", plural(st.recovering_devices, "device"), num(st.recovery_remaining) + " files to re-replicate", "c-recovery"),
    card("fsck", fsckText, fsckSub, "c-fsck"),
    card("rebalance", r ? (r.running ? "running" : r.time_started ? "stopped" : "idle") : "never run", r ? num(r.files_moved) + " files moved, " + num(r.failed) + " failed" : "", "c-rebal"),
    card("open uploads", num(st.open_uploads), "", "c-uploads"),
    card("failed jobs", num(st.failed_jobs), "", "c-failed"),
  );
  const byHost = new Map();
  for (const d of s.devices) { if (!byHost.has(d.hostid)) byHost.set(d.hostid, []); byHost.get(d.hostid).push(d); }
  const hosts = s.hosts.slice();
  for (const hostid of byHost.keys()) if (!hosts.some((x) => x.hostid === hostid)) hosts.push({ hostid, hostname: "host " + hostid, status: null });
  hosts.sort((a, b) => a.hostname.localeCompare(b.hostname, "en", { numeric: true }));
  $("#hosts").replaceChildren(...hosts.map((host) => h("section", { class: "host", "data-hostid": host.hostid, "data-hostname": host.hostname, "data-status": host.status },
    h("h3", {}, host.hostname, h("span", { class: "mute" }, "#" + host.hostid), host.hostip ? h("span", { class: "mute" }, host.hostip + ":" + host.http_port) : null,
      badge(host.status), host.zone ? h("span", { class: "mute" }, "zone " + host.zone) : null),
    h("table", {}, h("tr", {}, h("th", {}, "device"), h("th", {}, "admin"), h("th", {}, "observed"), h("th", {}, "weight"), h("th", {}, "usage")),
      ...(byHost.get(host.hostid) || []).sort((a, b) => a.devid - b.devid).map((d) =>
        h("tr", { class: "dev", "data-devid": d.devid, "data-status": d.status, "data-observed": d.observed_state || "unknown" },
          h("td", {}, "dev" + d.devid), h("td", {}, badge(d.status)), h("td", {}, badge(d.observed_state)), h("td", {}, d.weight), h("td", {}, usage(d))))))));
  if (m) {
    $("#procs").replaceChildren(...m.processes.map((p) => h("span", { class: "b " + (p.up ? "up" : "down"), title: p.up ? "answers" : "missing" }, p.instance)));
    $("#recovery").replaceChildren(m.recovery.length ? "" : h("span", { class: "mute" }, "no dead device to recover"), ...m.recovery.map((x) => h("div", {}, "dev" + x.devid + ": " + (x.phase || "?") + " — " + num(x.files.remaining) + " of " + num(x.files.total) + " files left" + (x.files.no_other_copy ? ", " + num(x.files.no_other_copy) + " with no other copy" : ""))));
    const probs = Object.entries(m.fsck_problems);
    $("#fsckprobs").textContent = probs.length ? "fsck found: " + probs.map(([k, v]) => k + " " + v).join(", ") : "";
  }
}

function hostname(hostid) {
  const x = last && last.hosts.find((y) => y.hostid === hostid);
  return x ? x.hostname : "host #" + hostid;
}
function eventText(x) {
  const d = x.data;
  if (x.kind !== "observed" || !d) return x.text;
  return "dev" + d.devid + " on " + hostname(d.hostid) + " observed " + (d.from || "unknown") + " → " + d.to;
}
function addEvent(e) {
  events.unshift(e);
  if (events.length > 100) events.pop();
  $("#events").replaceChildren(...events.map((x) => h("li", { "data-kind": x.kind, "data-devid": x.data ? x.data.devid : null }, h("span", { class: "mute" }, time(x.at)), " ", badge(x.kind, "ev"), " ", eventText(x))));
}

async function explain(domain, k) {
  const out = $("#explain");
  out.replaceChildren(h("p", { class: "mute" }, "looking up…"));
  try {
    const x = await api("/v1/domains/" + encodeURIComponent(domain) + "/files/" + encodeURIComponent(k) + "?explain");
    const placed = (p) => p ? [h("b", {}, p.cause), " ", p.why, h("span", { class: "mute" }, " (" + new Date(p.at).toLocaleString("en-GB") + ")")] : h("span", { class: "mute" }, "no record");
    out.replaceChildren(
      h("p", {}, h("code", {}, x.domain + " / " + x.key), " — fid " + x.fid + ", " + num(x.length) + " bytes, class ", h("b", {}, x.class),
        " (" + x.replpolicy + ", wants " + x.wanted + ") ", badge(x.policy_state), " ", x.policy_detail),
      h("table", { id: "copies" }, h("tr", {}, ...["device", "host", "zone", "admin", "observed", "counts", "why it is there"].map((t) => h("th", {}, t))),
        ...x.copies.map((c) => h("tr", { class: "copy", "data-devid": c.devid },
          h("td", {}, "dev" + c.devid), h("td", {}, c.hostname || "?"), h("td", {}, c.zone || "–"), h("td", {}, badge(c.status)), h("td", {}, badge(c.observed)),
          h("td", {}, badge(c.counts ? "yes" : "no")), h("td", { class: "why" }, placed(c.placed))))),
      x.would_change.length ? h("p", {}, "would change: " + x.would_change.join("; ")) : null,
      x.history.length ? h("details", {}, h("summary", {}, "history (" + x.history.length + ")"),
        h("ul", {}, ...x.history.map((p) => h("li", {}, time(p.at) + " " + p.op + " dev" + p.devid + " — " + p.cause + ": " + p.why)))) : null);
  } catch (e) {
    out.replaceChildren(h("p", { class: "err" }, e.message));
  }
}

$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  key = $("#key").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY, key);
  $("#key").value = "";
  connect();
});
$("#logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); key = null; if (stream) stream.abort(); setConn("offline"); showLogin(""); });
$("#lookup").addEventListener("submit", (e) => { e.preventDefault(); explain($("#lk-domain").value.trim(), $("#lk-key").value); });
if (key) connect(); else showLogin("");
`;

const hash = (s: string) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;

/** Only this page's own script and style run; it talks to this gateway only. */
export const DASHBOARD_CSP = [
  "default-src 'none'", `script-src ${hash(SCRIPT)}`, `style-src ${hash(STYLE)}`, "connect-src 'self'",
  "img-src data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mogile dashboard</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head><body>
<header><h1>mogile</h1><span id="conn" data-state="offline">offline</span><span id="updated" class="sp"></span><button id="logout" hidden>forget key</button></header>
<div id="login" hidden><h2>Dashboard</h2>
<p>Enter a cluster-admin gateway key (<code>&lt;id&gt;:&lt;secret&gt;</code>, e.g. the contents of <code>var/secrets/admin.key</code>). It is kept in this tab's session storage only.</p>
<form id="login-form"><input id="key" type="password" autocomplete="off" placeholder="MK…:…" aria-label="gateway key"><button type="submit">Open</button></form>
<p id="login-error" class="err"></p></div>
<main id="main" hidden>
<div id="errors"></div>
<section id="summary"></section>
<h2>Hosts and devices</h2><div id="hosts" class="hosts"></div>
<div class="cols"><div><h2>Recent events</h2><ul id="events"></ul></div>
<div><h2>Processes</h2><div id="procs"></div><h2>Recovery and fsck</h2><div id="recovery"></div><div id="fsckprobs"></div></div></div>
<h2>Key lookup</h2>
<form id="lookup"><input id="lk-domain" list="domains" placeholder="domain" aria-label="domain" required><datalist id="domains"></datalist>
<input id="lk-key" placeholder="key" aria-label="key" size="40" required><button type="submit">Explain</button></form>
<div id="explain"></div>
</main>
<script>${SCRIPT}</script>
</body></html>
`;

export const dashboardPage = () => PAGE;
