// Test helpers for the HTTP gateway: requests carrying a gateway key.

/**
 * `fetch` that sends `key` (`<id>:<secret>`) as `Authorization: Bearer` on requests to `base` (the
 * gateway), and nothing on any other URL (storage paths a reply handed out).
 */
export function keyFetch(base: string, key: string): typeof fetch {
  return (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(base + "/")) return fetch(input, init);
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  };
}

/** The Authorization header for a key. */
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
