// The billing API's client: openapi-fetch's typed `GET`/`POST`/… over the paths of schema.d.ts,
// plus the session (bearer token, refreshed once on a 401) and `unwrap`. Plain ES module, so a
// browser loads it as it is from /client/index.js (docs/client.md); index.d.ts types it.
import createClient from "./openapi-fetch.js";

const REFRESH = "/api/auth/token/refresh/";

/** An error answer of the API: its status and body, in one of the contract's error shapes. */
export class ApiError extends Error {
  constructor(response, body) {
    super(messageOf(body) || `The API answered ${response.status}.`);
    this.name = "ApiError";
    this.status = response.status;
    this.body = body;
    this.response = response;
  }
}

/** A readable line from the error shapes: `{error}`, `{detail}` or `{field: ["…"]}`. */
function messageOf(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.error === "string") return body.error;
  if (typeof body.detail === "string") return body.detail;
  return Object.entries(body)
    .map(([field, value]) => `${field}: ${[value].flat().join(" ")}`)
    .join("; ");
}

/** The data of a successful call (`await client.GET(…)`), or throws its `ApiError`. */
export function unwrap(result) {
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response, result.error);
  }
  return result.data;
}

/** A session kept in this object only. */
export function memorySession(tokens = null) {
  return {
    get: () => tokens,
    set: (pair) => {
      tokens = pair;
    },
  };
}

/** A session kept under `key` in a Web Storage (`sessionStorage`, `localStorage`). */
export function storageSession(storage, key) {
  return {
    get: () => JSON.parse(storage.getItem(key) ?? "null"),
    set: (pair) => (pair ? storage.setItem(key, JSON.stringify(pair)) : storage.removeItem(key)),
  };
}

/**
 * Sends the session's access token, and on a 401 that says the token is not valid refreshes the
 * pair once and sends the request again. Refresh tokens are single use and presenting one twice
 * revokes every session of the user, so concurrent 401s share one refresh, and a request whose
 * token has already been replaced is only sent again.
 */
function bearer(session, refreshClient, send) {
  const sent = new Map();
  let refreshing = null;

  async function renewed(used) {
    const current = session.get();
    if (!current) return null;
    if (current.access !== used) return current;
    refreshing ??= refreshClient
      .POST(REFRESH, { body: { refresh: current.refresh } })
      .then(({ data, response }) => {
        // Refused (401): the pair is dead, sign out. Throttled or unavailable: keep it for later.
        if (data) session.set(data);
        else if (response.status === 401) session.set(null);
        return data ?? null;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  return {
    onRequest({ request, schemaPath, id }) {
      const access = session.get()?.access;
      if (!access || request.headers.has("authorization")) return;
      request.headers.set("authorization", `Bearer ${access}`);
      // Kept before sending: the body of a sent request cannot be read again.
      if (schemaPath !== REFRESH) sent.set(id, { retry: request.clone(), access });
    },
    async onResponse({ response, id }) {
      const request = sent.get(id);
      sent.delete(id);
      if (!request || response.status !== 401) return;
      // A 401 without a JSON body is not about the token: left as it is.
      const body = await response
        .clone()
        .json()
        .catch(() => null);
      if (body?.code !== "token_not_valid") return;
      const tokens = await renewed(request.access);
      if (!tokens) return;
      request.retry.headers.set("authorization", `Bearer ${tokens.access}`);
      return send(request.retry);
    },
    onError({ id }) {
      sent.delete(id);
    },
  };
}

/**
 * A client of the API at `baseUrl` (an origin, or "" for the page's own): `client.GET(path,
 * {params})`, `client.POST(path, {body})`, … typed by schema.d.ts, each answering
 * `{data, error, response}`. `session` holds the token pair (default: in memory);
 * `client.session.set(tokens)` after signing in.
 */
export function createBillingClient({ baseUrl = "", fetch, session = memorySession() } = {}) {
  const options = fetch ? { baseUrl, fetch } : { baseUrl };
  const client = createClient(options);
  // Called as a plain function: a browser's fetch refuses any other `this` than the window.
  const send = (request) => (fetch ?? globalThis.fetch)(request);
  client.use(bearer(session, createClient(options), send));
  client.session = session;
  return client;
}
