import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { currencyExponent, formatMinor, parseMajor } from "../../src/billing/money.ts";
import { type BillingTestApp, DAY, startBillingApp } from "../helpers/billing.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

describe("renewals (the emulator's clock)", () => {
  beforeEach(() => t.resetStripe());

  test("a renewal adds a payment, moves the period and sends a confirmation", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 2900 });
    const created = await t.subscribe(buyer, plan.id);
    const first = created.body.subscription;
    await t.advance(31 * DAY + 2 * 3600);
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
    assert.equal(status.body.current_period_start, first.current_period_end);
    assert.ok(Date.parse(status.body.current_period_end) > Date.parse(first.current_period_end));
    const pays = await t.http("GET", "/api/subscriptions/payments/", { token: buyer.token });
    assert.deepEqual(
      pays.body.results.map((p: { amount: string; status: string }) => `${p.status}:${p.amount}`),
      ["succeeded:29.00", "succeeded:29.00"],
    );
    assert.notEqual(pays.body.results[0].stripe_invoice_id, pays.body.results[1].stripe_invoice_id);
    const mails = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.subscription_confirmation",
    );
    assert.equal(mails.length, 2);
    assert.match(mails[0]?.subject ?? "", /Payment received/);
  });

  test("a failing renewal: past_due, a payment-failed email per attempt, then canceled", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 999 });
    const created = await t.subscribe(buyer, plan.id);
    const subId = created.body.subscription.stripe_subscription_id;
    // The customer's card starts failing: every charge on it is declined.
    const customers = await t.stripe.customers.list({ email: buyer.email });
    const customerId = customers.data[0]?.id ?? "";
    const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customerId,
    });
    await t.stripe.subscriptions.update(subId, { default_payment_method: failing.id });

    await t.advance(31 * DAY + 2 * 3600);
    const pastDue = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(pastDue.body.status, "past_due");
    assert.equal(pastDue.body.is_active, false);
    let mails = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.payment_failed",
    );
    assert.equal(mails.length, 1);
    const failedRows = (await t.paymentsOf(buyer.userId)).filter((p) => p.status === "failed");
    assert.equal(failedRows.length, 1);
    assert.ok(failedRows[0]?.failureMessage);

    // Stripe retries after 3, 5 and 7 more days, then cancels (the emulator's default).
    await t.advance(16 * DAY);
    const end = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(end.body.status, "canceled");
    const rows = await t.paymentsOf(buyer.userId);
    const failures = rows.filter((p) => p.status === "failed").map((p) => p.attempt);
    assert.deepEqual(failures, [1, 2, 3, 4]);
    mails = (await t.emailsOf(buyer.userId)).filter((m) => m.template === "billing.payment_failed");
    assert.equal(mails.length, 4, "one email per failed attempt");
    assert.ok(mails.every((m) => m.causeKey.startsWith("in_")));
  });

  test("a renewal that needs authentication asks the customer once; past_due can be canceled", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    const created = await t.subscribe(buyer, plan.id);
    const subId = created.body.subscription.stripe_subscription_id;
    const customers = await t.stripe.customers.list({ email: buyer.email });
    const card = await t.stripe.paymentMethods.attach("pm_card_authenticationRequired", {
      customer: customers.data[0]?.id ?? "",
    });
    await t.stripe.subscriptions.update(subId, { default_payment_method: card.id });
    await t.advance(31 * DAY + 2 * 3600);
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "past_due");
    const asks = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.payment_action_required",
    );
    assert.equal(asks.length, 1);
    const cancel = await t.http("POST", "/api/subscriptions/cancel/", {
      token: buyer.token,
      body: { cancel_immediately: true },
    });
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.subscription.status, "canceled");
  });

  test("a trial made in Stripe reaches the user, warns once before it ends, and can be canceled", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    // Created outside our API (Stripe's dashboard): the webhook creates the row
    // (docs/architecture.md, 'Owner resolution').
    const customer = await t.stripe.customers.create({
      email: buyer.email,
      metadata: { user_id: buyer.userId },
    });
    await t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: plan.stripe_price_id }],
      trial_period_days: 2,
      metadata: { user_id: buyer.userId },
    });
    await t.settle();
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "trialing");
    assert.equal(status.body.is_active, true);
    // Neither the subscription nor the customer has a card: the reminder says how to add one.
    const warned = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.trial_ending_without_card",
    );
    assert.equal(warned.length, 1);
    const cancel = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.subscription.cancel_at_period_end, true);
  });

  test("a refund is recorded once as refunded", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 1999 });
    await t.subscribe(buyer, plan.id);
    await t.settle();
    const [paid] = await t.paymentsOf(buyer.userId);
    assert.ok(paid?.stripePaymentIntentId);
    await t.stripe.refunds.create({ payment_intent: paid.stripePaymentIntentId, amount: 500 });
    await t.settle();
    const events = await t.stripe.events.list({ type: "charge.refunded", limit: 1 });
    await t.emulator.redeliver(events.data[0]?.id ?? "");
    await t.settle();
    const pays = await t.http("GET", "/api/subscriptions/payments/", { token: buyer.token });
    assert.deepEqual(
      pays.body.results
        .map((p: { status: string; amount: string }) => `${p.status}:${p.amount}`)
        .sort(),
      ["refunded:5.00", "succeeded:19.99"],
    );
  });
});

describe("money", () => {
  test("amounts render with the currency's exponent and parse without floats", () => {
    assert.equal(currencyExponent("usd"), 2);
    assert.equal(currencyExponent("JPY"), 0);
    assert.equal(currencyExponent("kwd"), 3);
    assert.equal(formatMinor(999, "usd"), "9.99");
    assert.equal(formatMinor(5, "usd"), "0.05");
    assert.equal(formatMinor(1000, "jpy"), "1000");
    assert.equal(formatMinor(1250, "kwd"), "1.250");
    assert.equal(formatMinor(-5, "eur"), "-0.05");
    assert.equal(parseMajor("9.99", "usd"), 999);
    assert.equal(parseMajor("0.1", "usd"), 10);
    assert.equal(parseMajor("1000", "jpy"), 1000);
    assert.equal(parseMajor("1.25", "kwd"), 1250);
    assert.throws(() => parseMajor("1.5", "jpy"));
    assert.throws(() => parseMajor("1.999", "usd"));
    assert.throws(() => parseMajor("1e3", "usd"));
    // The classic float trap: 0.1 + 0.2 and 1.005 * 100 stay exact here.
    assert.equal(parseMajor("1.005", "kwd"), 1005);
    assert.equal(formatMinor(parseMajor("0.30", "usd"), "usd"), "0.30");
  });

  for (const [currency, amount, shown] of [
    ["jpy", 1000, "1000"],
    ["kwd", 1250, "1.250"],
  ] as const) {
    test(`a ${currency.toUpperCase()} plan renders ${shown} and its payment is recorded in minor units`, async () => {
      const buyer = await t.signUp();
      const plan = await t.plan({ amount, currency });
      assert.equal(plan.amount, shown);
      const listed = await t.http("GET", "/api/subscriptions/plans/", { token: buyer.token });
      const row = listed.body.results.find((p: { id: string }) => p.id === plan.id);
      assert.equal(row.amount, shown);
      assert.equal(row.currency, currency);
      const res = await t.subscribe(buyer, plan.id);
      assert.equal(res.status, 201);
      assert.equal(res.body.subscription.plan.amount, shown);
      await t.settle();
      const [paid] = await t.paymentsOf(buyer.userId);
      assert.equal(paid?.amount, amount);
      assert.equal(paid?.currency, currency);
      const pays = await t.http("GET", "/api/subscriptions/payments/", { token: buyer.token });
      assert.equal(pays.body.results[0].amount, shown);
      const [mail] = (await t.emailsOf(buyer.userId)).filter(
        (m) => m.template === "billing.subscription_confirmation",
      );
      assert.ok(mail);
    });
  }
});
