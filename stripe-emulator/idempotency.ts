import { createHash } from "node:crypto";
import { invalidRequest, StripeApiError } from "./errors.ts";
import type { Reply, Stage } from "./server.ts";
import type { State } from "./store.ts";

const MAX_KEYS = 20_000;

/**
 * `Idempotency-Key` on POSTs: the first response (errors included, as Stripe stores 402s and
 * 500s) is replayed for the same key and parameters; other parameters are an
 * `idempotency_error`. Validation failures (400) are not stored, as Stripe does not.
 */
export function idempotencyStage(state: () => State, persist: () => void): Stage {
  return async (ex, next) => {
    const key = ex.headers["idempotency-key"];
    if (ex.method !== "POST" || typeof key !== "string" || key === "") return next();
    if (key.length > 255) throw invalidRequest("Idempotency-Key must be at most 255 characters.");
    const scope = `${ex.headers.authorization ?? ""} ${key}`;
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
      reply = { status: err.status, body: { error: err.body } };
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
