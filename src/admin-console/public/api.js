// The console's one way to the API: the typed client the app serves at /client/ (generated from
// /api/schema/). Its session keeps the staff user's token pair in sessionStorage (this tab only,
// gone when it closes) and refreshes an expired access token once.

import { ApiError, createBillingClient, storageSession, unwrap } from "/client/index.js";

const session = storageSession(sessionStorage, "admin-console.tokens");
export const client = createBillingClient({ session });

export const tokens = () => session.get();

export { ApiError };

/** Drops empty filters, so `?status=` is not sent as an empty value the schema refuses. */
function clean(query) {
  if (!query) return undefined;
  return Object.fromEntries(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""),
  );
}

/** The API's answer to a GET, or an ApiError. `path` is the schema's template. */
export async function get(path, { path: pathParams, query } = {}) {
  return unwrap(await client.GET(path, { params: { path: pathParams, query: clean(query) } }));
}

/**
 * Idempotency keys of actions whose outcome is unknown (the request failed in transit or the
 * server answered 5xx), by what the action is. Trying the same action again resends its key, so
 * the API does it at most once; a definite answer forgets the key and the next try is new.
 */
const pendingKeys = new Map();

/**
 * A mutating call (POST, PATCH, DELETE) with an Idempotency-Key. `action` names the action and its
 * inputs (`refund:<payment id>:<amount>`): the key is reused only for a retry of that same action.
 */
export async function mutate(action, method, path, { path: pathParams, body } = {}) {
  const key = pendingKeys.get(action) ?? crypto.randomUUID();
  pendingKeys.set(action, key);
  let result;
  try {
    result = await client[method](path, {
      params: { path: pathParams },
      headers: { "idempotency-key": key },
      ...(body === undefined ? {} : { body }),
    });
  } catch (err) {
    throw new Error(`The request did not complete (${err.message}); try again.`);
  }
  if (result.response.status < 500) pendingKeys.delete(action);
  return unwrap(result);
}

/** Signs in with email and password; the pair is kept for this tab. */
export async function signIn(email, password) {
  const data = unwrap(await client.POST("/api/auth/login/", { body: { email, password } }));
  session.set(data.tokens);
  return data.user;
}

/** Blacklists the refresh token (best effort: the pair is forgotten either way). */
export async function signOut() {
  const pair = session.get();
  if (pair?.refresh) {
    await client.POST("/api/auth/logout/", { body: { refresh: pair.refresh } }).catch(() => {});
  }
  session.set(null);
}

/** The message to show for a failed call: the API's error shape, or the transport's. */
export function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}
