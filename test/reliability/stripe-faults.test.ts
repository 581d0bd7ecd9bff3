import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createFaults } from "../../stripe-emulator/faults.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";

/**
 * Stripe misbehaving under a subscribe request: 500s, 429s and slow answers on chosen calls. The
 * API answers in the shapes of docs/architecture.md, 'The error model', the SDK's retries reuse the
 * idempotency key, and however the request ends, the user has at most one Stripe customer and one
 * live subscription.
 */
const faults = createFaults();
let t: BillingTestApp;
let planId: string;

before(async () => {
  t = await startBillingApp({ stages: [faults.stage] });
  planId = (await t.plan({ amount: 1500 })).id;
});
after(() => t.close());

async function stripeState(customer: Customer) {
  const customers = (await t.stripe.customers.list({ email: customer.email, limit: 100 })).data;
  const subs = await Promise.all(
    customers.map(
      async (c) => (await t.stripe.subscriptions.list({ customer: c.id, status: "all" })).data,
    ),
  );
  return { customers, live: subs.flat().filter((s) => s.status !== "canceled") };
}

function assertErrorShape(body: unknown): void {
  assert.ok(body && typeof body === "object", "an error body");
  const fields = Object.entries(body);
  assert.ok(
    ("error" in body && typeof body.error === "string") ||
      ("detail" in body && typeof body.detail === "string"),
    `an error shape of docs/architecture.md, got ${JSON.stringify(body)}`,
  );
  assert.ok(fields.every(([k]) => ["error", "detail", "code", "request_id"].includes(k)));
}

describe("Stripe faults during subscribe", () => {
  test("a 500 on subscription create is retried with the same idempotency key: one subscription", async () => {
    const customer = await t.signUp();
    faults.clear();
    faults.inject({ method: "POST", path: /^\/v1\/subscriptions$/, fault: "500" });
    const res = await t.subscribe(customer, planId);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const creates = faults.calls.filter(
      (c) => c.method === "POST" && c.path === "/v1/subscriptions",
    );
    assert.equal(creates.length, 2, "the failed call and its retry");
    assert.ok(creates[0]?.idempotencyKey, "the write carries a key");
    assert.equal(creates[1]?.idempotencyKey, creates[0]?.idempotencyKey);
    const { customers, live } = await stripeState(customer);
    assert.equal(customers.length, 1);
    assert.equal(live.length, 1);
  });

  test("500s past the SDK's retries: a documented error, then a retry by the user succeeds with no duplicate customer", async () => {
    const customer = await t.signUp();
    faults.clear();
    faults.inject({ method: "POST", path: /^\/v1\/customers$/, fault: "500", times: 3 });
    const failed = await t.subscribe(customer, planId);
    assert.ok(failed.status >= 400 && failed.status < 500, `${failed.status}`);
    assertErrorShape(failed.body);
    const again = await t.subscribe(customer, planId);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const { customers, live } = await stripeState(customer);
    assert.equal(customers.length, 1, "one customer");
    assert.equal(live.length, 1, "one subscription");
  });

  test("a 429 on attaching the card: a documented error, nothing orphaned, the retry subscribes once", async () => {
    const customer = await t.signUp();
    faults.clear();
    faults.inject({ method: "POST", path: /^\/v1\/payment_methods\/.+\/attach$/, fault: "429" });
    const failed = await t.subscribe(customer, planId);
    assert.ok(failed.status >= 400 && failed.status < 500, `${failed.status}`);
    assertErrorShape(failed.body);
    assert.equal((await stripeState(customer)).live.length, 0, "no subscription yet");
    const again = await t.subscribe(customer, planId);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const { customers, live } = await stripeState(customer);
    assert.equal(customers.length, 1);
    assert.equal(live.length, 1);
  });

  test("a slow Stripe (every write delayed) still ends in one subscription", async () => {
    const customer = await t.signUp();
    faults.clear();
    faults.inject({ method: "POST", path: /^\/v1\//, fault: "delay", delayMs: 300, times: 10 });
    const res = await t.subscribe(customer, planId);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { customers, live } = await stripeState(customer);
    assert.equal(customers.length, 1);
    assert.equal(live.length, 1);
    await t.settle();
    assert.equal((await t.subscriptionsOf(customer.userId)).length, 1, "one projected row");
  });

  test("concurrent subscribe requests while Stripe fails some calls: one subscription", async () => {
    const customer = await t.signUp();
    faults.clear();
    const failures = faults.inject({
      method: "POST",
      path: /^\/v1\/subscriptions$/,
      fault: "500",
      times: 2,
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.subscribe(customer, planId)),
    );
    for (const r of results) {
      assert.ok(r.status < 500, `no 5xx: ${r.status} ${JSON.stringify(r.body)}`);
      if (r.status !== 201) assertErrorShape(r.body);
    }
    assert.equal(failures.fired, 2, "both injected 500s were served");
    const { customers, live } = await stripeState(customer);
    assert.equal(customers.length, 1);
    assert.equal(live.length, 1, `exactly one live subscription, got ${live.length}`);
  });
});
