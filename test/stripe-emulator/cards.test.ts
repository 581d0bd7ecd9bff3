import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Stripe from "stripe";
import { advanceClock } from "./clock.ts";
import { clockSubscribed } from "./contract/clock-subscribed.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { customerWithCard, DAY, harness, monthlyPrice, subscribed } from "./helpers.ts";

let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

/** Completing 3-D Secure is the customer in a browser: Stripe's test mode cannot automate it. */
const THREE_D_SECURE = emulatorOnly("3-D Secure is completed by the customer in a browser");

async function subscribe(card: string, behavior: Stripe.SubscriptionCreateParams.PaymentBehavior) {
  const { customer, sub } = await subscribed(t.stripe, {
    card,
    params: { payment_behavior: behavior, expand: ["latest_invoice.confirmation_secret"] },
  });
  const invoice = sub.latest_invoice as Stripe.Invoice;
  return { customer, sub, invoice, pi: await paymentIntentOf(invoice.id) };
}

/** The basil-and-later way from an invoice to its PaymentIntent. */
async function paymentIntentOf(invoice: string): Promise<Stripe.PaymentIntent | undefined> {
  const payments = await t.stripe.invoicePayments.list({
    invoice,
    expand: ["data.payment.payment_intent"],
  });
  return payments.data[0]?.payment.payment_intent as Stripe.PaymentIntent | undefined;
}

describe("declining test cards", () => {
  for (const card of [
    "pm_card_visa_chargeDeclined",
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
  ]) {
    test(`${card} is refused at attach with a StripeCardError`, async () => {
      const customer = await t.stripe.customers.create({ email: "d@example.com" });
      await assert.rejects(
        t.stripe.paymentMethods.attach(card, { customer: customer.id }),
        (err) => {
          assert.ok(err instanceof Stripe.errors.StripeCardError);
          assert.equal(err.code, "card_declined");
          assert.equal(err.statusCode, 402);
          assert.equal(
            err.decline_code,
            card.includes("Insufficient") ? "insufficient_funds" : "generic_decline",
          );
          return true;
        },
      );
    });
  }
});

describe("first invoice per payment_behavior", () => {
  for (const card of ["pm_card_visa", "pm_card_mastercard", "pm_card_amex"]) {
    test(`${card} with allow_incomplete is active and paid`, async () => {
      const { sub, invoice, pi } = await subscribe(card, "allow_incomplete");
      assert.equal(sub.status, "active");
      assert.equal(invoice.status, "paid");
      assert.equal(invoice.amount_paid, 1000);
      assert.equal(invoice.billing_reason, "subscription_create");
      assert.equal(pi?.status, "succeeded");
    });
  }

  test("visa with default_incomplete waits for confirmation, then becomes active", async () => {
    const { sub, invoice, pi } = await subscribe("pm_card_visa", "default_incomplete");
    assert.equal(sub.status, "incomplete");
    assert.equal(invoice.status, "open");
    assert.match(invoice.confirmation_secret?.client_secret ?? "", /^pi_.+_secret_/);
    assert.ok(pi);
    const confirmed = await t.stripe.paymentIntents.confirm(pi.id);
    assert.equal(confirmed.status, "succeeded");
    assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "active");
    const updates = await t.eventsAbout(sub.id, { type: "customer.subscription.updated" });
    const updated = updates.find((e) => e.type === "customer.subscription.updated");
    assert.deepEqual(
      (updated?.data.previous_attributes as Partial<Stripe.Subscription> | undefined)?.status,
      "incomplete",
    );
  });

  test("chargeCustomerFail: allow_incomplete leaves the subscription incomplete", async () => {
    const { sub, invoice, pi } = await subscribe("pm_card_chargeCustomerFail", "allow_incomplete");
    assert.equal(sub.status, "incomplete");
    assert.equal(invoice.status, "open");
    assert.equal(pi?.status, "requires_payment_method");
    assert.equal(pi?.last_payment_error?.code, "card_declined");
    const failed = await t.eventsAbout(invoice.id ?? "", { type: "invoice.payment_failed" });
    assert.equal(failed.length, 1);
  });

  test("chargeCustomerFail: error_if_incomplete answers 402 and creates nothing", async () => {
    const { customer } = await customerWithCard(t.stripe, "pm_card_chargeCustomerFail");
    const price = await monthlyPrice(t.stripe);
    await assert.rejects(
      t.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price.id }],
        payment_behavior: "error_if_incomplete",
      }),
      Stripe.errors.StripeCardError,
    );
    const subs = await t.stripe.subscriptions.list({ customer: customer.id, status: "all" });
    assert.equal(subs.data.length, 0);
  });

  test("chargeCustomerFail: default_incomplete then a confirm declines with 402", async () => {
    const { sub, pi } = await subscribe("pm_card_chargeCustomerFail", "default_incomplete");
    assert.equal(sub.status, "incomplete");
    assert.ok(pi);
    await assert.rejects(t.stripe.paymentIntents.confirm(pi.id), Stripe.errors.StripeCardError);
    assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "incomplete");
  });

  for (const card of ["pm_card_authenticationRequired", "pm_card_authenticationRequiredOnSetup"]) {
    test(
      `${card}: allow_incomplete needs 3-D Secure, then the customer completes it`,
      THREE_D_SECURE,
      async () => {
        const h = t.emulator();
        const { sub, pi } = await subscribe(card, "allow_incomplete");
        assert.equal(sub.status, "incomplete");
        assert.equal(pi?.status, "requires_action");
        assert.equal(pi?.next_action?.type, "use_stripe_sdk");
        await h.emulator.idle();
        assert.ok(h.receiver.types().includes("invoice.payment_action_required"));
        assert.ok(pi);
        await h.emulator.confirmPaymentIntent(pi.id);
        assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "active");
        assert.equal((await t.stripe.paymentIntents.retrieve(pi.id)).status, "succeeded");
      },
    );
  }

  test("authenticationRequired with error_if_incomplete answers 402", async () => {
    await assert.rejects(
      subscribed(t.stripe, {
        card: "pm_card_authenticationRequired",
        params: { payment_behavior: "error_if_incomplete" },
      }),
      (err) =>
        err instanceof Stripe.errors.StripeCardError &&
        err.code === "invoice_payment_intent_requires_action",
    );
  });

  test("an unpaid first invoice expires the subscription after 23 hours", async () => {
    const { clock, sub, frozenTime } = await clockSubscribed(t.stripe, {
      params: { payment_behavior: "default_incomplete" },
    });
    const invoice = { id: String(sub.latest_invoice) };
    await advanceClock(t.stripe, clock.id, frozenTime + DAY);
    assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "incomplete_expired");
    assert.equal((await t.stripe.invoices.retrieve(invoice.id)).status, "void");
    await t.stripe.testHelpers.testClocks.del(clock.id);
  });
});

describe("renewals", () => {
  test("visa renews: periods roll, the cycle invoice is paid an hour after creation", async () => {
    const { clock, sub } = await clockSubscribed(t.stripe);
    const end = sub.items.data[0]?.current_period_end ?? 0;
    await advanceClock(t.stripe, clock.id, end);
    const atEnd = await t.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
    assert.equal(atEnd.items.data[0]?.current_period_start, end);
    assert.equal((atEnd.latest_invoice as Stripe.Invoice).status, "draft");
    await advanceClock(t.stripe, clock.id, end + 3601);
    const inv = await t.stripe.invoices.retrieve(
      String(atEnd.latest_invoice && (atEnd.latest_invoice as Stripe.Invoice).id),
    );
    assert.equal(inv.status, "paid");
    assert.equal(inv.billing_reason, "subscription_cycle");
    assert.equal(inv.parent?.subscription_details?.subscription, sub.id);
    await t.stripe.testHelpers.testClocks.del(clock.id);
  });

  test(
    "chargeCustomerFail at renewal: past_due, retries, then canceled",
    emulatorOnly("the retry schedule and what follows the last retry are the account's settings"),
    async () => {
      const h = t.emulator();
      const { customer, sub } = await subscribe("pm_card_visa", "allow_incomplete");
      const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
        customer: customer.id,
      });
      await t.stripe.customers.update(customer.id, {
        invoice_settings: { default_payment_method: failing.id },
      });
      const end = sub.items.data[0]?.current_period_end ?? 0;
      await h.emulator.advanceTime(end - sub.created + 3700);
      const pastDue = await t.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
      assert.equal(pastDue.status, "past_due");
      const inv = pastDue.latest_invoice as Stripe.Invoice;
      assert.equal(inv.attempt_count, 1);
      assert.ok(inv.next_payment_attempt);
      await h.emulator.advanceTime(8 * DAY);
      const ended = await t.stripe.subscriptions.retrieve(sub.id);
      assert.equal(ended.status, "canceled");
      assert.equal(ended.cancellation_details?.reason, "payment_failed");
      const finalInv = await t.stripe.invoices.retrieve(inv.id);
      assert.equal(finalInv.attempt_count, 4);
      assert.equal(finalInv.status, "uncollectible");
      await h.emulator.idle();
      const types = h.receiver.types();
      assert.equal(types.filter((t) => t === "invoice.payment_failed").length, 4);
      assert.ok(types.includes("customer.subscription.deleted"));
    },
  );

  test(
    "with afterFinalFailure=unpaid the subscription ends unpaid",
    emulatorOnly("the emulator's own billing settings"),
    async () => {
      const h2 = await harness({ billing: { afterFinalFailure: "unpaid", retryDays: [1] } });
      try {
        const { customer, sub } = await subscribed(h2.stripe);
        const failing = await h2.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
          customer: customer.id,
        });
        await h2.stripe.customers.update(customer.id, {
          invoice_settings: { default_payment_method: failing.id },
        });
        await h2.emulator.advanceTime(33 * DAY);
        assert.equal((await h2.stripe.subscriptions.retrieve(sub.id)).status, "unpaid");
      } finally {
        await h2.close();
      }
    },
  );

  test(
    "authenticationRequired at renewal: past_due with payment_action_required",
    THREE_D_SECURE,
    async () => {
      const h = t.emulator();
      const { sub, pi } = await subscribe("pm_card_authenticationRequired", "allow_incomplete");
      assert.ok(pi);
      await h.emulator.confirmPaymentIntent(pi.id);
      await h.emulator.advanceTime(32 * DAY);
      const s = await t.stripe.subscriptions.retrieve(sub.id);
      assert.equal(s.status, "past_due");
      const renewalPi = await paymentIntentOf(String(s.latest_invoice));
      assert.equal(renewalPi?.status, "requires_action");
      assert.ok(renewalPi);
      await h.emulator.idle();
      assert.equal(
        h.receiver.types().filter((t) => t === "invoice.payment_action_required").length,
        2,
      );
      await h.emulator.confirmPaymentIntent(renewalPi.id);
      assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "active");
    },
  );

  test(
    "authenticationRequiredOnSetup renews off-session without authentication",
    THREE_D_SECURE,
    async () => {
      const h = t.emulator();
      const { sub, pi } = await subscribe(
        "pm_card_authenticationRequiredOnSetup",
        "default_incomplete",
      );
      assert.ok(pi);
      await h.emulator.confirmPaymentIntent(pi.id);
      await h.emulator.advanceTime(32 * DAY);
      const s = await t.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
      assert.equal(s.status, "active");
      assert.equal((s.latest_invoice as Stripe.Invoice).status, "paid");
    },
  );
});
