import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { users } from "../../src/accounts/accounts-tables.ts";
import { registerUser, startAccountsApp } from "../accounts/helpers.ts";
import type { TestApp } from "../helpers/app.ts";
import { ADMIN_ENV } from "./ops-helpers.ts";

// The reliability suite's bad-input test reaches admin routes only as a user who is not staff
// (403 before any validation). Here a staff user sends generated invalid parameters, bodies and
// query strings to the operations routes (payments, webhooks, jobs, plans): never a 5xx, and
// every error in a shape of docs/architecture.md, 'The error model'.

const RUNS = process.env.RELIABILITY_SCALE === "full" ? 200 : 8;
const SEED = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};
const AREAS = /^\/api\/admin\/(payments|webhooks|jobs|plans)\//;

let t: TestApp;
let token = "";
let operations: { method: string; path: string }[] = [];

before(async () => {
  t = await startAccountsApp({ env: ADMIN_ENV });
  const staff = await registerUser(t.app);
  await t.services.database.db.update(users).set({ isStaff: true }).where(eq(users.id, staff.id));
  token = staff.access;
  const schema = (await t.app.inject({ method: "GET", url: "/api/schema/" })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  operations = Object.entries(schema.paths)
    .filter(([path]) => AREAS.test(path))
    .flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ["get", "post", "patch"].includes(m))
        .map((method) => ({ method: method.toUpperCase(), path })),
    );
});
after(() => t?.close());

const text = fc.oneof(
  fc.string(),
  fc.constantFrom("", " ", "null", "%", "../..", "a".repeat(300), "1e309", "-1", "0", "evt_1"),
);
const value = fc.oneof(fc.jsonValue(), text, fc.integer(), fc.double());

const body = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .dictionary(
      fc.constantFrom(
        "amount",
        "name",
        "description",
        "currency",
        "interval",
        "features",
        "entitlements",
        "trial_days",
        "per_seat",
        "min_quantity",
        "max_quantity",
        "__proto__",
      ),
      value,
    )
    .map((v) => JSON.stringify(v)),
  text,
);

const contentType = fc.constantFrom(
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
);

const query = fc.dictionary(fc.constantFrom("page", "user", "status", "type", "queue"), text, {
  maxKeys: 3,
});

/** A path parameter: a well-formed id of nothing, or garbage. */
const param = fc.oneof(fc.constant(randomUUID()), text.map(encodeURIComponent));

function isDesignShape(status: number, parsed: unknown): boolean {
  if (status < 400) return true;
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return false;
  const entries = Object.entries(parsed);
  if ("detail" in parsed) return entries.every(([k]) => k === "detail" || k === "code");
  if ("error" in parsed) return typeof parsed.error === "string" && entries.length === 1;
  return (
    entries.length > 0 &&
    entries.every(([, v]) => Array.isArray(v) && v.every((m) => typeof m === "string"))
  );
}

test("a staff user's invalid input to the operations routes: no 5xx, every error in a documented shape", async () => {
  assert.ok(operations.length >= 12, `operations found: ${operations.length}`);
  for (const op of operations) {
    await fc.assert(
      fc.asyncProperty(body, query, param, contentType, async (payload, qs, id, type) => {
        const path = op.path.replace("{id}", id || "x");
        const url = `${path}?${new URLSearchParams(qs).toString()}`;
        const res = await t.app.inject({
          method: op.method as "GET",
          url,
          headers: { authorization: `Bearer ${token}`, "content-type": type },
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
