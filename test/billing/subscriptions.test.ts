import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "drizzle-orm";
import { payments } from "../../src/billing/billing-tables.ts";
import { queryRows } from "../../src/platform/db/client.ts";
import { type BillingTestApp, latestPaymentIntent, startBillingApp } from "../helpers/billing.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

describe("plans", () => {
  test("active plans are listed cheapest first with amounts in major units", async () => {
    const buyer = await t.signUp();
    const pricey = await t.plan({ amount: 4900, name: "Zeta" });
    const cheap = await t.plan({ amount: 100, name: "Alpha" });
    const res = await t.http("GET", "/api/subscriptions/plans/", { token: buyer.token });
    assert.equal(res.status, 200);
    const ids = res.body.results.map((p: { id: string }) => p.id);
    assert.ok(ids.indexOf(cheap.id) < ids.indexOf(pricey.id));
    const listed = res.body.results.find((p: { id: string }) => p.id === cheap.id);
    assert.deepEqual(listed, { ...cheap, amount: "1.00", features: ["Everything"] });
    assert.equal(res.body.count, res.body.results.length);
    assert.equal(res.body.next, null);
  });

  test("pages of plans carry the count of all active plans; a page past the end is a 404", async () => {
    const buyer = await t.signUp();
    for (let i = 0; i < 21; i++) await t.plan({ amount: 500 + i, name: `Tier ${i}` });
    const [active] = await queryRows<{ n: number }>(
      t.services.database.db,
      sql`select count(*)::int as n from plans where is_active`,
    );
    const total = active?.n ?? 0;
    const first = await t.http("GET", "/api/subscriptions/plans/", { token: buyer.token });
    assert.equal(first.body.count, total);
    assert.equal(first.body.results.length, 20);
    assert.match(first.body.next, /page=2/);
    const last = Math.ceil(total / 20);
    const end = await t.http("GET", `/api/subscriptions/plans/?page=${last}`, {
      token: buyer.token,
    });
    assert.equal(end.body.count, total);
    assert.equal(end.body.results.length, total - 20 * (last - 1));
    assert.equal(end.body.next, null);
    const past = await t.http("GET", `/api/subscriptions/plans/?page=${last + 1}`, {
      token: buyer.token,
    });
    assert.equal(past.status, 404);
    assert.deepEqual(past.body, { detail: "Invalid page." });
    // Pages whose offset PostgreSQL could not take (bigint) are past the end too, not a 500
    // (found by the bad-input suite: page=1e309 reads as Infinity).
    for (const page of ["1e20", "1e309"]) {
      for (const path of ["/api/subscriptions/plans/", "/api/subscriptions/payments/"]) {
        const huge = await t.http("GET", `${path}?page=${page}`, { token: buyer.token });
        assert.deepEqual([huge.status, huge.body], [404, { detail: "Invalid page." }], path);
      }
    }
  });

  test("the subscription routes need a signed-in user", async () => {
    for (const [method, path] of [
      ["GET", "/api/subscriptions/plans/"],
      ["POST", "/api/subscriptions/create/"],
      ["GET", "/api/subscriptions/status/"],
      ["POST", "/api/subscriptions/cancel/"],
      ["POST", "/api/subscriptions/reactivate/"],
      ["GET", "/api/subscriptions/payments/"],
    ] as const) {
      const res = await t.http(method, path);
      assert.equal(res.status, 401, path);
      assert.deepEqual(res.body, { detail: "Authentication credentials were not provided." });
    }
  });
});

describe("create", () => {
  test("a good card makes an active subscription, a payment and one confirmation email", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 999 });
    const res = await t.subscribe(buyer, plan.id);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.message, "Subscription created.");
    assert.equal(res.body.client_secret, undefined);
    const sub = res.body.subscription;
    assert.equal(sub.status, "active");
    assert.equal(sub.is_active, true);
    assert.equal(sub.plan.id, plan.id);
    assert.equal(sub.cancel_at_period_end, false);
    assert.ok(Date.parse(sub.current_period_end) > Date.parse(sub.current_period_start));
    await t.settle();

    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
    assert.equal(status.body.stripe_subscription_id, sub.stripe_subscription_id);
    assert.equal(status.body.plan.name, plan.name);
    assert.deepEqual(status.body.plan, sub.plan, "status/ reads the plan the subscription names");
    const profile = await t.http("GET", "/api/auth/profile/", { token: buyer.token });
    assert.equal(profile.body.subscription_status, "active");

    const pays = await t.http("GET", "/api/subscriptions/payments/", { token: buyer.token });
    assert.equal(pays.body.count, 1);
    assert.equal(pays.body.results[0].amount, "9.99");
    assert.equal(pays.body.results[0].currency, "usd");
    assert.equal(pays.body.results[0].status, "succeeded");
    assert.match(pays.body.results[0].stripe_payment_intent_id, /^pi_/);
    const mails = await t.emailsOf(buyer.userId);
    const confirmations = mails.filter((m) => m.template === "billing.subscription_confirmation");
    assert.equal(confirmations.length, 1);
  });

  test("one Stripe customer per user, created with metadata.user_id", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    assert.equal(
      (
        await t.http("POST", "/api/subscriptions/cancel/", {
          token: buyer.token,
          body: { cancel_immediately: true },
        })
      ).status,
      200,
    );
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    const customers = await t.stripe.customers.list({ email: buyer.email });
    assert.equal(customers.data.length, 1);
    assert.equal(customers.data[0]?.metadata.user_id, buyer.userId);
    const subs = await t.stripe.subscriptions.list({
      customer: customers.data[0]?.id,
      status: "all",
    });
    assert.equal(subs.data.length, 2);
    const rows = await t.subscriptionsOf(buyer.userId);
    assert.equal(rows.length, 2, "history is kept");
  });

  test("a second create while subscribed is refused", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    const again = await t.subscribe(buyer, plan.id);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { error: "You already have an active subscription." });
  });

  test("an unknown or inactive plan is a 404; a malformed body a 400 per field", async () => {
    const buyer = await t.signUp();
    const missing = await t.subscribe(buyer, "00000000-0000-4000-8000-000000000000");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "Plan not found." });
    const bad = await t.http("POST", "/api/subscriptions/create/", {
      token: buyer.token,
      body: { plan_id: "nope" },
    });
    assert.equal(bad.status, 400);
    // payment_method_id may be left out for a trial without a card (test/billing/trials.test.ts),
    // so the schema does not require it: the plan's check does, once the plan is known.
    assert.deepEqual(bad.body, { plan_id: ["Must be a valid UUID."] });
  });

  for (const [card, message] of [
    ["pm_card_visa_chargeDeclined", /declined/i],
    ["pm_card_chargeDeclinedInsufficientFunds", /insufficient funds/i],
    ["pm_card_chargeCustomerFail", /declined/i],
  ] as const) {
    test(`${card}: 402 with Stripe's message, nothing active or incomplete left`, async () => {
      const buyer = await t.signUp();
      const plan = await t.plan();
      const res = await t.subscribe(buyer, plan.id, card);
      assert.equal(res.status, 402);
      assert.match(res.body.error, message);
      await t.settle();
      const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
      assert.equal(status.body.status, "inactive");
      const customers = await t.stripe.customers.list({ email: buyer.email });
      const live = await t.stripe.subscriptions.list({ customer: customers.data[0]?.id });
      assert.equal(live.data.length, 0, "no active or incomplete subscription at Stripe");
      const mails = await t.emailsOf(buyer.userId);
      assert.deepEqual(
        mails.map((m) => m.template).filter((n) => n.startsWith("billing.")),
        [],
        "a decline answered on-session sends no email",
      );
      // After a decline the customer can subscribe with a good card.
      assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    });
  }

  test("a card that needs 3-D Secure is incomplete with a client secret, then active", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    const res = await t.subscribe(buyer, plan.id, "pm_card_authenticationRequired");
    assert.equal(res.status, 201);
    assert.equal(res.body.subscription.status, "incomplete");
    assert.equal(res.body.subscription.is_active, false);
    assert.match(res.body.client_secret, /^pi_.+_secret_/);
    await t.settle();
    const pi = await latestPaymentIntent(t.stripe, res.body.subscription.stripe_subscription_id);
    await t.emulator.confirmPaymentIntent(pi);
    await t.settle();
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
    const pays = await t.paymentsOf(buyer.userId);
    assert.deepEqual(
      pays.map((p) => p.status),
      ["succeeded"],
    );
  });
});

describe("status, cancel, reactivate", () => {
  test("status is inactive without a subscription and never writes", async () => {
    const buyer = await t.signUp();
    const res = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "inactive");
    assert.equal(res.body.is_active, false);
    assert.deepEqual(await t.subscriptionsOf(buyer.userId), []);
    const customers = await t.stripe.customers.list({ email: buyer.email });
    assert.equal(customers.data.length, 0, "reading status creates no Stripe customer");
  });

  test("cancel and reactivate without a subscription are 404s", async () => {
    const buyer = await t.signUp();
    const cancel = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(cancel.status, 404);
    assert.deepEqual(cancel.body, { error: "No active subscription found." });
    const reactivate = await t.http("POST", "/api/subscriptions/reactivate/", {
      token: buyer.token,
    });
    assert.equal(reactivate.status, 404);
    assert.deepEqual(reactivate.body, { error: "No subscription scheduled for cancellation." });
  });

  test("cancel at period end keeps access, emails once, and reactivate undoes it", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    const created = await t.subscribe(buyer, plan.id);
    const periodEnd = created.body.subscription.current_period_end;
    const res = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.message, "Subscription canceled.");
    assert.equal(res.body.subscription.status, "active");
    assert.equal(res.body.subscription.cancel_at_period_end, true);
    assert.ok(res.body.subscription.canceled_at);
    await t.settle();
    const mails = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.cancellation",
    );
    assert.equal(mails.length, 1);
    assert.ok(mails[0]?.causeKey.endsWith(new Date(periodEnd).toISOString()));

    const back = await t.http("POST", "/api/subscriptions/reactivate/", { token: buyer.token });
    assert.equal(back.status, 200);
    assert.equal(back.body.message, "Subscription reactivated.");
    assert.equal(back.body.subscription.cancel_at_period_end, false);
    assert.equal(back.body.subscription.canceled_at, null);
    // Cancel → reactivate → cancel reaches Stripe each time (new idempotency keys).
    const again = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(again.body.subscription.cancel_at_period_end, true);
    const stripeSub = await t.stripe.subscriptions.retrieve(
      created.body.subscription.stripe_subscription_id,
    );
    assert.equal(stripeSub.cancel_at_period_end, true);
  });

  test("cancel immediately ends it now and emails the end date", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    await t.subscribe(buyer, plan.id);
    const res = await t.http("POST", "/api/subscriptions/cancel/", {
      token: buyer.token,
      body: { cancel_immediately: true },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.subscription.status, "canceled");
    assert.equal(res.body.subscription.is_active, false);
    assert.ok(res.body.subscription.canceled_at);
    await t.settle();
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "canceled");
    const mails = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.cancellation",
    );
    assert.equal(mails.length, 1);
    const none = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(none.status, 404);
  });

  test("payments are the caller's own, newest first", async () => {
    const a = await t.signUp();
    const b = await t.signUp();
    const plan = await t.plan({ amount: 1500 });
    await t.subscribe(a, plan.id);
    await t.subscribe(b, plan.id);
    await t.settle();
    const res = await t.http("GET", "/api/subscriptions/payments/", { token: a.token });
    assert.equal(res.body.count, 1);
    const mine = await t.paymentsOf(a.userId);
    assert.equal(res.body.results[0].id, mine[0]?.id);
  });
});

describe("payment history pages", () => {
  test("paging through a long history returns every payment once, newest first", async () => {
    const buyer = await t.signUp();
    const base = Date.parse("2026-01-01T00:00:00Z");
    // Ties on occurred_at and created_at, so the id has to break them the same way on every page.
    const inserted = await t.services.database.db
      .insert(payments)
      .values(
        Array.from({ length: 45 }, (_, i) => ({
          userId: buyer.userId,
          stripeInvoiceId: `in_history_${buyer.userId}_${i}`,
          amount: 100 + i,
          currency: "usd",
          status: "succeeded",
          occurredAt: new Date(base + Math.floor(i / 4) * 86_400_000),
          createdAt: new Date(base + (i % 2) * 1000),
        })),
      )
      .returning();
    const expected = inserted
      .toSorted(
        (a, b) =>
          b.occurredAt.getTime() - a.occurredAt.getTime() ||
          b.createdAt.getTime() - a.createdAt.getTime() ||
          (a.id < b.id ? 1 : -1),
      )
      .map((p) => p.id);

    const seen: string[] = [];
    for (const page of [1, 2, 3]) {
      const path = `/api/subscriptions/payments/${page === 1 ? "" : `?page=${page}`}`;
      const res = await t.http("GET", path, { token: buyer.token });
      assert.equal(res.status, 200);
      assert.equal(res.body.count, 45);
      assert.equal(res.body.results.length, page === 3 ? 5 : 20);
      assert.equal(res.body.next === null, page === 3);
      seen.push(...res.body.results.map((p: { id: string }) => p.id));
    }
    assert.deepEqual(seen, expected);
    const past = await t.http("GET", "/api/subscriptions/payments/?page=4", { token: buyer.token });
    assert.equal(past.status, 404);
  });
});
