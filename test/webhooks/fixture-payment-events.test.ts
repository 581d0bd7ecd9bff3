import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  chargePayload,
  eventPayload,
  invoicePayload,
  subscriptionPayload,
} from "../fixtures/stripe/fixtures.ts";
import { latestInvoice, ledgerScenario } from "../fixtures/stripe/ledger.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";

// Invoice and charge events built from Stripe's official fixtures (test/fixtures/stripe/),
// pointed at a real user, customer, price, subscription and invoice, signed and posted to the
// app's endpoint. The emulator's own deliveries stay held, so every payment row and email here
// was caused by the fixture event.

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
  t.emulator.holdDeliveries(true);
});
after(() => t?.close());

const s = ledgerScenario(() => t);

/** A subscription paid at creation, and its first invoice. */
async function paidSubscription(amount: number, currency = "usd") {
  const who = await s.buyer();
  const plan = await t.plan({ amount, currency, name: `Plan ${currency.toUpperCase()}` });
  const sub = await s.subscribe(who, plan);
  const invoice = await latestInvoice(t.stripe, sub.id);
  assert.equal(invoice.status, "paid");
  return { who, plan, sub, invoice };
}

async function paymentsApi(token: string) {
  const res = await t.http("GET", "/api/subscriptions/payments/", { token });
  assert.equal(res.status, 200);
  return res.body.results as { amount: string; currency: string; status: string }[];
}

describe("invoice.paid and invoice.payment_succeeded", () => {
  test("invoice.paid records the payment, the subscription and one receipt; invoice.payment_succeeded in the legacy shape adds nothing", async () => {
    const { who, plan, sub, invoice } = await paidSubscription(999);
    const paid = eventPayload("invoice.paid", invoicePayload(invoice));
    assert.equal(await s.deliver(paid), "processed");

    const [row] = await t.paymentsOf(who.user.userId);
    assert.equal(row?.status, "succeeded");
    assert.equal(row?.amount, 999);
    assert.equal(row?.currency, "usd");
    assert.equal(row?.stripeInvoiceId, invoice.id);
    const [subRow] = await t.subscriptionsOf(who.user.userId);
    assert.equal(subRow?.stripeSubscriptionId, sub.id);
    assert.equal(subRow?.planId, plan.id);
    assert.equal(row?.subscriptionId, subRow?.id);
    const receipts = await s.mails(who.user.userId, "billing.subscription_confirmation");
    assert.equal(receipts.length, 1);
    assert.match(receipts[0]?.text ?? "", /9\.99 USD/);

    // API 2024-06-20: `invoice.subscription`, `parent: null`, the customer expanded.
    const legacy = invoicePayload(invoice, { legacy: true, customer: "expanded" });
    assert.equal(legacy.parent, null);
    assert.equal(legacy.subscription, sub.id);
    const succeeded = eventPayload("invoice.payment_succeeded", legacy, {
      apiVersion: "2024-06-20",
    });
    assert.equal(await s.deliver(succeeded), "processed");
    assert.equal((await t.paymentsOf(who.user.userId)).length, 1);
    assert.equal((await s.mails(who.user.userId, "billing.subscription_confirmation")).length, 1);
  });

  test("an invoice.paid in the legacy shape alone still finds its subscription", async () => {
    const { who, sub, invoice } = await paidSubscription(1100);
    const event = eventPayload("invoice.paid", invoicePayload(invoice, { legacy: true }), {
      apiVersion: "2024-06-20",
    });
    assert.equal(await s.deliver(event), "processed");
    const [row] = await t.paymentsOf(who.user.userId);
    const [subRow] = await t.subscriptionsOf(who.user.userId);
    assert.equal(subRow?.stripeSubscriptionId, sub.id);
    assert.equal(row?.subscriptionId, subRow?.id);
  });

  for (const [currency, amount, shown] of [
    ["jpy", 1200, "1200"],
    ["kwd", 12_500, "12.500"],
    ["bhd", 1_250, "1.250"],
  ] as const) {
    test(`a ${currency.toUpperCase()} invoice is stored in its minor unit and shown with its own decimals`, async () => {
      const { who, invoice } = await paidSubscription(amount, currency);
      assert.equal(invoice.amount_paid, amount);
      const event = eventPayload("invoice.paid", invoicePayload(invoice, { customer: "null" }));
      assert.equal(await s.deliver(event), "processed");
      const [row] = await t.paymentsOf(who.user.userId);
      assert.equal(row?.amount, amount);
      assert.equal(row?.currency, currency);
      const [listed] = await paymentsApi(who.user.token);
      assert.deepEqual(listed && [listed.amount, listed.currency, listed.status], [
        shown,
        currency,
        "succeeded",
      ]);
      const [receipt] = await s.mails(who.user.userId, "billing.subscription_confirmation");
      assert.ok(receipt?.text.includes(`${shown} ${currency.toUpperCase()}`), receipt?.text);
    });
  }
});

describe("failed payments", () => {
  test("invoice.payment_failed on a first invoice records the failed attempt and deliberately emails nothing", async () => {
    const who = await s.buyer("pm_card_chargeCustomerFail");
    const plan = await t.plan({ amount: 2500 });
    const sub = await s.subscribe(who, plan);
    assert.equal(sub.status, "incomplete");
    const invoice = await latestInvoice(t.stripe, sub.id);
    assert.equal(invoice.attempt_count, 1);
    const event = eventPayload("invoice.payment_failed", invoicePayload(invoice));
    assert.equal(await s.deliver(event), "processed");

    const [row] = await t.paymentsOf(who.user.userId);
    assert.deepEqual(row && [row.status, row.amount, row.attempt], ["failed", 2500, 1]);
    assert.equal((await t.subscriptionsOf(who.user.userId))[0]?.status, "incomplete");
    // The create request answered the customer with a 402; a first payment sends no email.
    assert.equal((await s.mails(who.user.userId, "billing.payment_failed")).length, 0);
  });

  /** A subscription on a test clock whose renewal is charged to `card` (a month later). */
  async function renewalWith(card: string) {
    const frozen = Math.floor(Date.now() / 1000);
    const clock = await t.stripe.testHelpers.testClocks.create({ frozen_time: frozen });
    const who = await s.buyer("pm_card_visa", clock.id);
    const plan = await t.plan({ amount: 3000 });
    const sub = await s.subscribe(who, plan);
    const next = await t.stripe.paymentMethods.attach(card, { customer: who.customer.id });
    await t.stripe.subscriptions.update(sub.id, { default_payment_method: next.id });
    const periodEnd = sub.items.data[0]?.current_period_end ?? frozen;
    await t.stripe.testHelpers.testClocks.advance(clock.id, {
      frozen_time: periodEnd + 2 * 3600,
    });
    const renewal = await latestInvoice(t.stripe, sub.id);
    assert.equal(renewal.billing_reason, "subscription_cycle");
    return { who, sub, renewal };
  }

  test("invoice.payment_failed on a renewal records the attempt and emails the customer once", async () => {
    const { who, sub, renewal } = await renewalWith("pm_card_chargeCustomerFail");
    assert.equal(renewal.status, "open");
    const event = eventPayload("invoice.payment_failed", invoicePayload(renewal));
    assert.equal(await s.deliver(event), "processed");
    assert.equal(await s.deliver(event), "processed", "a redelivery");

    const failed = (await t.paymentsOf(who.user.userId)).filter((p) => p.status === "failed");
    assert.deepEqual(
      failed.map((p) => [p.amount, p.attempt, p.stripeInvoiceId]),
      [[3000, renewal.attempt_count, renewal.id]],
    );
    const mails = await s.mails(who.user.userId, "billing.payment_failed");
    assert.deepEqual(
      mails.map((m) => m.causeKey),
      [`${renewal.id}:${renewal.attempt_count}`],
    );
    assert.match(mails[0]?.text ?? "", /30\.00 USD/);
    const [row] = await t.subscriptionsOf(who.user.userId);
    assert.equal(row?.stripeSubscriptionId, sub.id);
    assert.equal(row?.status, "past_due");
  });

  test("invoice.payment_action_required on a renewal asks the customer to authenticate, and records no payment", async () => {
    const { who, renewal } = await renewalWith("pm_card_authenticationRequired");
    const event = eventPayload("invoice.payment_action_required", invoicePayload(renewal));
    assert.equal(await s.deliver(event), "processed");
    const mails = await s.mails(who.user.userId, "billing.payment_action_required");
    assert.deepEqual(
      mails.map((m) => m.causeKey),
      [`${renewal.id}:${renewal.attempt_count}`],
    );
    assert.deepEqual(await t.paymentsOf(who.user.userId), []);
  });
});

describe("charge.refunded", () => {
  test("a charge.refunded whose charge has customer null records the refund against the invoice payment", async () => {
    const { who, invoice } = await paidSubscription(2000);
    assert.equal(
      await s.deliver(eventPayload("invoice.paid", invoicePayload(invoice))),
      "processed",
    );
    const [paid] = await t.paymentsOf(who.user.userId);
    assert.ok(paid?.stripeChargeId);
    const refund = await t.stripe.refunds.create({ charge: paid.stripeChargeId, amount: 700 });
    const charge = await t.stripe.charges.retrieve(paid.stripeChargeId);
    const payload = chargePayload(charge);
    assert.equal(payload.customer, null, "the fixture's guest charge");
    assert.equal(await s.deliver(eventPayload("charge.refunded", payload)), "processed");

    const rows = await t.paymentsOf(who.user.userId);
    const refunded = rows.find((p) => p.status === "refunded");
    assert.deepEqual(refunded && [refunded.amount, refunded.stripeRefundId], [700, refund.id]);
    assert.equal(refunded?.stripeInvoiceId, invoice.id);
    assert.equal(refunded?.subscriptionId, paid.subscriptionId);
    const listed = await paymentsApi(who.user.token);
    assert.deepEqual(listed.map((p) => `${p.status}:${p.amount}`).sort(), [
      "refunded:7.00",
      "succeeded:20.00",
    ]);
  });

  test("a charge.refunded with the customer expanded, for a charge Stripe does not know, is ignored", async () => {
    const { who, invoice } = await paidSubscription(2000);
    assert.equal(
      await s.deliver(eventPayload("invoice.paid", invoicePayload(invoice))),
      "processed",
    );
    const [paid] = await t.paymentsOf(who.user.userId);
    assert.ok(paid?.stripeChargeId);
    const charge = await t.stripe.charges.retrieve(paid.stripeChargeId);
    const payload = { ...chargePayload(charge, "expanded"), id: "ch_1PgafuB7WZ01zgkWXYmPNZs8" };
    assert.equal(await s.deliver(eventPayload("charge.refunded", payload)), "ignored");
    assert.deepEqual(
      (await t.paymentsOf(who.user.userId)).map((p) => p.status),
      ["succeeded"],
    );
  });
});

describe("subscription snapshots inside payment events", () => {
  test("a trialing subscription's first (zero) invoice.paid records no payment but writes the subscription", async () => {
    const who = await s.buyer();
    const plan = await t.plan({ amount: 1500 });
    const sub = await s.subscribe(who, plan, { trial_period_days: 7 });
    const invoice = await latestInvoice(t.stripe, sub.id);
    assert.equal(invoice.amount_paid, 0);
    const created = eventPayload("customer.subscription.created", subscriptionPayload(sub));
    assert.equal(await s.deliver(created), "processed");
    assert.equal(
      await s.deliver(eventPayload("invoice.paid", invoicePayload(invoice))),
      "processed",
    );
    assert.deepEqual(await t.paymentsOf(who.user.userId), []);
    assert.equal((await t.subscriptionsOf(who.user.userId))[0]?.status, "trialing");
  });
});
