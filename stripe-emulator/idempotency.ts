import { createHash } from "node:crypto";
import { errorBody, invalidRequest, StripeApiError } from "./errors.ts";
import type { Exchange, Reply, Stage } from "./server.ts";
import type { State } from "./store.ts";

const MAX_KEYS = 20_000;

function keyOf(ex: Exchange): string | undefined {
  const key = ex.headers["idempotency-key"];
  if (ex.method !== "POST" || typeof key !== "string" || key === "") return undefined;
  return key;
}

const scopeOf = (ex: Exchange, key: string) => `${ex.headers.authorization ?? ""} ${key}`;

/**
 * While a request with an `Idempotency-Key` runs, another request with the same key is answered
 * 409 `idempotency_key_in_use` (nothing stored, so the client may retry it), as Stripe does. This
 * stage comes before the extra stages, so a request slowed by an injected delay holds its key
 * for the whole delay, like a slow request at Stripe.
 */
export function idempotencyLockStage(): Stage {
  const inFlight = new Set<string>();
  return async (ex, next) => {
    const key = keyOf(ex);
    if (key === undefined) return next();
    const scope = scopeOf(ex, key);
    if (inFlight.has(scope)) {
      throw new StripeApiError(409, {
        type: "idempotency_error",
        code: "idempotency_key_in_use",
        message:
          "There is currently another in-progress request using this Idempotency Key (that probably means you submitted twice, and the other request is still going through). Please try again later.",
      });
    }
    inFlight.add(scope);
    try {
      return await next();
    } finally {
      inFlight.delete(scope);
    }
  };
}

/**
 * `Idempotency-Key` on POSTs: the first response (errors included, as Stripe stores 402s and
 * 500s) is replayed for the same key and parameters; other parameters are an
 * `idempotency_error`. Validation failures (400) are not stored, as Stripe does not.
 */
export function idempotencyStage(state: () => State, persist: () => void): Stage {
  return async (ex, next) => {
    const key = keyOf(ex);
    if (key === undefined) return next();
    if (key.length > 255) throw invalidRequest("Idempotency-Key must be at most 255 characters.");
    const scope = scopeOf(ex, key);
    const fingerprint = createHash("sha256")
      .update(`${ex.method} ${ex.path} ${ex.rawBody}`)
      .digest("hex");
    const store = state().idempotency;
    const seen = store[scope];
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        throw new StripeApiError(400, {
          type: "idempotency_error",
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      return {
        status: seen.status,
        body: null,
        raw: seen.body,
        headers: { "idempotent-replayed": "true", "idempotency-key": key },
      };
    }
    let reply: Reply;
    try {
      reply = await next();
    } catch (err) {
      if (!(err instanceof StripeApiError) || err.status === 400) throw err;
      reply = { status: err.status, body: { error: errorBody(err, ex.requestId) } };
    }
    const keys = Object.keys(store);
    if (keys.length >= MAX_KEYS && keys[0] !== undefined) delete store[keys[0]];
    store[scope] = {
      fingerprint,
      status: reply.status,
      body: reply.raw ?? JSON.stringify(reply.body, null, 2),
      at: Date.now(),
    };
    persist();
    return { ...reply, headers: { ...reply.headers, "idempotency-key": key } };
  };
}
