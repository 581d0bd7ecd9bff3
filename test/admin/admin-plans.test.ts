import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";
import { ADMIN_ENV, type AdminCall, auditRows, staffCaller } from "./ops-helpers.ts";

// The plan catalog for staff: create (a Stripe product and price), edit, deactivate and sync, each
// read back at Stripe through the SDK and in the plans the API sells.

let t: BillingTestApp;
let call: AdminCall;
before(async () => {
  t = await startBillingApp({ env: ADMIN_ENV });
  ({ call } = await staffCaller(t));
});
after(() => t?.close());

const uniqueName = () => `Team ${randomBytes(3).toString("hex")}`;

async function createPlan(overrides: Record<string, unknown> = {}, key?: string) {
  return call("POST", "/api/admin/plans/", {
    body: {
      name: uniqueName(),
      description: "For teams.",
      amount: "49.00",
      currency: "usd",
      interval: "month",
      features: ["Unlimited projects", "SSO"],
      entitlements: { projects: 100, sso: true },
      trial_days: 7,
      ...overrides,
    },
    ...(key ? { key } : {}),
  });
}

const sold = async () =>
  (await t.http("GET", "/api/subscriptions/plans/", { token: (await t.signUp()).token })).body
    .results as { id: string; name: string }[];

describe("admin plans", () => {
  test("create makes a Stripe product and price with the plan's settings, and sells it", async () => {
    const key = randomUUID();
    const res = await createPlan({}, key);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const plan = res.body;
    assert.equal(plan.amount, "49.00");
    assert.equal(plan.trial_days, 7);
    assert.deepEqual(plan.entitlements, { projects: 100, sso: true });
    assert.equal(plan.is_active, true);

    const price = await t.stripe.prices.retrieve(plan.stripe_price_id, { expand: ["product"] });
    assert.equal(price.unit_amount, 4900);
    assert.equal(price.recurring?.interval, "month");
    assert.equal(price.metadata.trial_days, "7");
    assert.equal(price.metadata.entitlements, '{"projects":100,"sso":true}');
    const product = price.product as {
      id: string;
      name: string;
      marketing_features: { name?: string }[];
    };
    assert.equal(product.id, plan.stripe_product_id);
    assert.equal(product.name, plan.name);
    assert.deepEqual(
      product.marketing_features.map((f) => f.name),
      ["Unlimited projects", "SSO"],
    );
    assert.ok((await sold()).some((p) => p.id === plan.id));

    // The same key on another request is refused, and nothing more is made at Stripe.
    const other = uniqueName();
    const again = await createPlan({ name: other }, key);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const products = await t.stripe.products.list({ limit: 100 });
    assert.equal(products.data.filter((p) => p.name === other).length, 0);
    const [audit] = await auditRows(t.services.database.db, "admin.plan_created", plan.id);
    assert.equal(audit?.actorKind, "admin");
  });

  test("a retried create with its Idempotency-Key creates one product and one price", async () => {
    const name = uniqueName();
    const key = randomUUID();
    const first = await createPlan({ name }, key);
    const again = await createPlan({ name }, key);
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.deepEqual(again.body, first.body);
    const products = (await t.stripe.products.list({ limit: 100 })).data.filter(
      (p) => p.name === name,
    );
    assert.equal(products.length, 1);
    const prices = await t.stripe.prices.list({ product: products[0]?.id ?? "", limit: 100 });
    assert.equal(prices.data.length, 1);
  });

  test("bad plans are refused with field errors before Stripe is asked", async () => {
    const name = uniqueName();
    const decimals = await createPlan({ name, amount: "9.999" });
    assert.equal(decimals.status, 400);
    assert.ok(decimals.body.amount);
    const seats = await createPlan({ name, per_seat: true, min_quantity: 5, max_quantity: 2 });
    assert.equal(seats.status, 400);
    const interval = await createPlan({ name, interval: "week" });
    assert.equal(interval.status, 400);
    const products = await t.stripe.products.list({ limit: 100 });
    assert.equal(products.data.filter((p) => p.name === name).length, 0);
  });

  test("edit renames the product, replaces features and entitlements at Stripe and locally", async () => {
    const plan = (await createPlan()).body;
    const name = uniqueName();
    const res = await call("PATCH", `/api/admin/plans/${plan.id}/`, {
      body: { name, features: ["Everything"], entitlements: { projects: 5 } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, name);
    assert.deepEqual(res.body.features, ["Everything"]);
    assert.deepEqual(res.body.entitlements, { projects: 5 });
    const product = await t.stripe.products.retrieve(plan.stripe_product_id);
    assert.equal(product.name, name);
    assert.deepEqual(
      product.marketing_features.map((f) => f.name),
      ["Everything"],
    );
    const price = await t.stripe.prices.retrieve(plan.stripe_price_id);
    assert.equal(price.metadata.entitlements, '{"projects":5}');
    assert.equal(price.metadata.trial_days, "7", "the other settings are kept");

    // sync mirrors Stripe: it agrees with the edit.
    const sync = await call("POST", "/api/admin/plans/sync/");
    assert.equal(sync.status, 200, JSON.stringify(sync.body));
    const synced = sync.body.synced.find((p: { id: string }) => p.id === plan.id);
    assert.equal(synced.name, name);
    assert.deepEqual(synced.entitlements, { projects: 5 });
    const [audit] = await auditRows(t.services.database.db, "admin.plan_updated", plan.id);
    assert.deepEqual(audit?.after, {
      name,
      features: ["Everything"],
      entitlements: { projects: 5 },
    });

    assert.equal((await call("PATCH", `/api/admin/plans/${plan.id}/`, { body: {} })).status, 400);
    const missing = await call("PATCH", `/api/admin/plans/${randomUUID()}/`, { body: { name } });
    assert.equal(missing.status, 404);
  });

  test("deactivate archives the price and stops selling the plan; sync keeps it inactive", async () => {
    const plan = (await createPlan()).body;
    const res = await call("POST", `/api/admin/plans/${plan.id}/deactivate/`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.is_active, false);
    assert.equal((await t.stripe.prices.retrieve(plan.stripe_price_id)).active, false);
    assert.ok(!(await sold()).some((p) => p.id === plan.id));
    await call("POST", "/api/admin/plans/sync/");
    const all = await call("GET", "/api/admin/plans/");
    const listed = all.body.results.find((p: { id: string }) => p.id === plan.id);
    assert.equal(listed?.is_active, false);
    assert.equal((await call("POST", `/api/admin/plans/${randomUUID()}/deactivate/`)).status, 404);
  });

  test("sync registers a price made in Stripe's dashboard", async () => {
    const product = await t.stripe.products.create({
      name: uniqueName(),
      marketing_features: [{ name: "Dashboard-made" }],
    });
    const price = await t.stripe.prices.create({
      product: product.id,
      unit_amount: 1500,
      currency: "usd",
      recurring: { interval: "year" },
    });
    const res = await call("POST", "/api/admin/plans/sync/");
    assert.equal(res.status, 200);
    const plan = res.body.synced.find(
      (p: { stripe_price_id: string }) => p.stripe_price_id === price.id,
    );
    assert.equal(plan?.name, product.name);
    assert.equal(plan?.interval, "year");
    assert.ok((await sold()).some((p) => p.id === plan.id));
  });
});
