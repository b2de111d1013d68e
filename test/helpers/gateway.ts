// Test helpers for the HTTP gateway: requests carrying a gateway key, each response checked against the
// gateway's own OpenAPI document (test/helpers/openapi.ts).
import { checkerFor, requestLine } from "./openapi.ts";

/**
 * `fetch` whose responses from `base` (the gateway) are checked against its /v1/openapi.json; other
 * URLs (storage paths a reply handed out) pass through unchecked.
 */
export function gatewayFetch(base: string, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    const { method, url } = requestLine(input, init);
    if (url.startsWith(base + "/")) await (await checkerFor(base)).check(method, url, res);
    return res;
  };
}

/**
 * `fetch` that sends `key` (`<id>:<secret>`) as `Authorization: Bearer` on requests to `base` (the
 * gateway), and nothing on any other URL; the gateway's responses are checked as by gatewayFetch.
 */
export function keyFetch(base: string, key: string): typeof fetch {
  return gatewayFetch(base, (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(base + "/")) return fetch(input, init);
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  });
}

/** An in-process app (hono `app.request`) whose every response is checked against its own /v1/openapi.json. */
export function checkResponses<A extends { request: (input: string | URL | Request, init?: RequestInit) => Response | Promise<Response> }>(app: A): A {
  const inner = app.request.bind(app);
  const base = `app:${Math.random()}`;
  app.request = (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await inner(input, init);
    const { method, url } = requestLine(input, init);
    await (await checkerFor(base, async () => inner("/v1/openapi.json"))).check(method, new URL(url, "http://gateway").href, res);
    return res;
  }) as A["request"];
  return app;
}

/** The Authorization header for a key. */
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
