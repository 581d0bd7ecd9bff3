import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import type { TestApp } from "../helpers/app.ts";
import { startTestApp } from "../helpers/app.ts";

/**
 * Every operation in /api/schema/ receives generated invalid bodies, query strings and headers
 * (with and without a valid token, so both authentication and validation are reached): never a
 * 5xx, and every error body is one of the shapes of docs/architecture.md, 'The error model'.
 * RELIABILITY_SCALE=full runs many more cases per operation.
 */
const RUNS = process.env.RELIABILITY_SCALE === "full" ? 300 : 6;
/** FC_SEED replays a failure: fast-check prints the seed of every failing run. */
const SEED = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};

let t: TestApp;
let token = "";
let operations: { method: string; path: string }[] = [];

before(async () => {
  t = await startTestApp({
    env: {
      PASSWORD_HASH_MEMORY_KIB: "1024",
      PASSWORD_HASH_ITERATIONS: "1",
      THROTTLE_REGISTER_IP: "1000000/hour",
      THROTTLE_LOGIN_IP: "1000000/hour",
      THROTTLE_LOGIN_ACCOUNT: "1000000/hour",
      THROTTLE_REFRESH_IP: "1000000/hour",
      THROTTLE_REFRESH_ACCOUNT: "1000000/hour",
      THROTTLE_CHANGE_PASSWORD_IP: "1000000/hour",
      THROTTLE_CHANGE_PASSWORD_ACCOUNT: "1000000/hour",
    },
  });
  const registered = await t.app.inject({
    method: "POST",
    url: "/api/auth/register/",
    payload: {
      email: "fuzz@example.com",
      username: "fuzz",
      password: "correct-Horse-battery-9",
      password_confirm: "correct-Horse-battery-9",
    },
  });
  token = registered.json().tokens.access;
  const schema = (await t.app.inject({ method: "GET", url: "/api/schema/" })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  operations = Object.entries(schema.paths).flatMap(([path, methods]) =>
    Object.keys(methods)
      .filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))
      .map((method) => ({ method: method.toUpperCase(), path })),
  );
});
after(() => t.close());

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", " ", "null", "\u0000", "%", "../..", "a".repeat(5000), "1e309", "-1"),
);

/** A JSON value of any shape, or bytes that are not JSON at all. */
const body = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .dictionary(
      fc.constantFrom(
        "email",
        "password",
        "password_confirm",
        "username",
        "refresh",
        "plan_id",
        "payment_method_id",
        "cancel_immediately",
        "old_password",
        "new_password",
        "first_name",
        "__proto__",
        "constructor",
      ),
      fc.oneof(fc.jsonValue(), text),
    )
    .map((v) => JSON.stringify(v)),
  text,
);

const headers = fc.record(
  {
    authorization: fc.oneof(
      fc.constant("VALID"),
      text.map((s) => `Bearer ${s}`),
      text,
    ),
    "content-type": fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/octet-stream",
    ),
    "stripe-signature": text,
    "x-request-id": text,
  },
  { requiredKeys: [] },
);

const query = fc.dictionary(fc.constantFrom("page", "limit", "x", "page[]"), text, {
  maxKeys: 2,
});

function isDesignShape(status: number, value: unknown): boolean {
  if (status < 400) return true;
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  if ("detail" in value) {
    return (
      typeof value.detail === "string" && entries.every(([k]) => k === "detail" || k === "code")
    );
  }
  if ("error" in value) return typeof value.error === "string" && entries.length === 1;
  // Field errors: {"field": ["message", ...]}.
  return (
    entries.length > 0 &&
    entries.every(([, v]) => Array.isArray(v) && v.every((m) => typeof m === "string"))
  );
}

test("generated invalid input to every operation: no 5xx, every error in a documented shape", async () => {
  assert.ok(operations.length >= 10, `operations found: ${operations.length}`);
  for (const op of operations) {
    await fc.assert(
      fc.asyncProperty(body, headers, query, async (payload, hdrs, qs) => {
        const sent: Record<string, string> = {};
        for (const [k, v] of Object.entries(hdrs)) {
          // Header values must be latin1 without control characters to be sendable at all.
          const value = k === "authorization" && v === "VALID" ? `Bearer ${token}` : v;
          if (/^[\x20-\x7e]*$/.test(value)) sent[k] = value;
        }
        const url = `${op.path}?${new URLSearchParams(qs).toString()}`;
        const res = await t.app.inject({
          method: op.method,
          url,
          headers: sent,
          ...(op.method === "GET" ? {} : { payload }),
        });
        assert.ok(res.statusCode < 500, `${op.method} ${url}: ${res.statusCode} ${res.body}`);
        const parsed: unknown = res.body ? JSON.parse(res.body) : null;
        assert.ok(
          isDesignShape(res.statusCode, parsed),
          `${op.method} ${url}: ${res.statusCode} ${res.body}`,
        );
      }),
      { numRuns: RUNS, ...SEED },
    );
  }
});
