import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Stripe from "stripe";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { DAY, monthlyPrice } from "./helpers.ts";

// Written against a target (contract/target.ts), so they run on Stripe's test mode too; those
// that need the customer's browser use the emulator's controls and are emulator-only.
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

const BROWSER = "the customer's browser (3-D Secure, Stripe.js) is not an API at Stripe";

/** Server-side confirmation without a browser: no redirect-based payment methods. */
const noRedirects = { enabled: true, allow_redirects: "never" } as const;

async function newCustomer() {
  return t.stripe.customers.create({ email: `s${Math.random()}@example.com` });
}

async function setUp(card: string, extra: Partial<Stripe.SetupIntentCreateParams> = {}) {
  const customer = await newCustomer();
  const si = await t.stripe.setupIntents.create({
    customer: customer.id,
    payment_method: card,
    automatic_payment_methods: noRedirects,
    ...extra,
  });
  return { customer, si };
}

/** The types of the events about one object, oldest first, once `last` is among them. */
async function typesFor(id: string, last: string): Promise<string[]> {
  const events = await t.eventsAbout(id, { until: (es) => es.some((e) => e.type === last) });
  return events.filter((e) => (e.data.object as { id?: string }).id === id).map((e) => e.type);
}

describe("SetupIntent confirmation per test card", () => {
  test("a good card succeeds and is attached to the customer", async () => {
    const { customer, si } = await setUp("pm_card_visa");
    assert.equal(si.status, "requires_confirmation");
    assert.match(si.client_secret ?? "", new RegExp(`^${si.id}_secret_`));
    assert.equal(si.usage, "off_session");
    assert.equal(si.mandate, null);
    const done = await t.stripe.setupIntents.confirm(si.id);
    assert.equal(done.status, "succeeded");
    assert.equal(done.last_setup_error, null);
    const pm = await t.stripe.paymentMethods.retrieve(String(done.payment_method));
    assert.equal(pm.customer, customer.id);
    assert.deepEqual(await typesFor(si.id, "setup_intent.succeeded"), [
      "setup_intent.created",
      "setup_intent.succeeded",
    ]);
    assert.deepEqual(await typesFor(pm.id, "payment_method.attached"), ["payment_method.attached"]);
  });

  test("confirm: true at creation answers the confirmed SetupIntent", async () => {
    const { si } = await setUp("pm_card_mastercard", { confirm: true });
    assert.equal(si.status, "succeeded");
  });

  test("a declined card: 402 card_error, then requires_payment_method with last_setup_error", async () => {
    const { si } = await setUp("pm_card_visa_chargeDeclined");
    await assert.rejects(t.stripe.setupIntents.confirm(si.id), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeCardError);
      assert.equal(err.statusCode, 402);
      assert.equal(err.code, "card_declined");
      assert.equal(err.decline_code, "generic_decline");
      assert.equal(err.setup_intent?.id, si.id);
      assert.equal(err.setup_intent?.status, "requires_payment_method");
      return true;
    });
    const after = await t.stripe.setupIntents.retrieve(si.id);
    assert.equal(after.status, "requires_payment_method");
    assert.equal(after.payment_method, null);
    assert.equal(after.last_setup_error?.code, "card_declined");
    assert.equal(after.last_setup_error?.decline_code, "generic_decline");
    assert.deepEqual(await typesFor(si.id, "setup_intent.setup_failed"), [
      "setup_intent.created",
      "setup_intent.setup_failed",
    ]);
  });

  test("after a decline, confirming with another card succeeds", async () => {
    const { si } = await setUp("pm_card_chargeDeclinedInsufficientFunds");
    await assert.rejects(t.stripe.setupIntents.confirm(si.id), Stripe.errors.StripeCardError);
    const done = await t.stripe.setupIntents.confirm(si.id, {
      payment_method: "pm_card_visa",
      expand: ["latest_attempt"],
    });
    assert.equal(done.status, "succeeded");
    assert.equal(done.last_setup_error, null);
    const latest = done.latest_attempt as Stripe.SetupAttempt;
    assert.equal(latest.status, "succeeded");
    assert.equal(latest.payment_method_details.card?.last4, "4242");
    // Each confirmation is a SetupAttempt, newest first.
    const attempts = await t.stripe.setupAttempts.list({ setup_intent: si.id });
    assert.deepEqual(
      attempts.data.map((a) => a.status),
      ["succeeded", "failed"],
    );
    assert.equal(attempts.data[0]?.id, latest.id);
    assert.equal(attempts.data[1]?.setup_error?.decline_code, "insufficient_funds");
  });

  test("setupAttempts.list needs a setup_intent", async () => {
    await assert.rejects(t.stripe.setupAttempts.list({} as Stripe.SetupAttemptListParams), {
      code: "parameter_missing",
      param: "setup_intent",
    });
  });

  test(
    "a 3-D Secure card requires action until the customer authenticates",
    emulatorOnly(BROWSER),
    async () => {
      const { si } = await setUp("pm_card_authenticationRequired");
      const pending = await t.stripe.setupIntents.confirm(si.id);
      assert.equal(pending.status, "requires_action");
      assert.equal(pending.next_action?.type, "use_stripe_sdk");
      // Test control: the customer completes 3-D Secure in the browser.
      await t.emulator().emulator.confirmSetupIntent(si.id);
      const done = await t.stripe.setupIntents.retrieve(si.id);
      assert.equal(done.status, "succeeded");
      assert.equal(done.next_action, null);
      // One attempt, from requires_action to succeeded.
      const attempts = await t.stripe.setupAttempts.list({ setup_intent: si.id });
      assert.deepEqual(
        attempts.data.map((a) => [a.id, a.status]),
        [[done.latest_attempt, "succeeded"]],
      );
      assert.deepEqual(await typesFor(si.id, "setup_intent.succeeded"), [
        "setup_intent.created",
        "setup_intent.requires_action",
        "setup_intent.succeeded",
      ]);
    },
  );

  test(
    "with a return_url the 3-D Secure step is a redirect back to it",
    emulatorOnly(BROWSER),
    async () => {
      const customer = await newCustomer();
      const si = await t.stripe.setupIntents.create({
        customer: customer.id,
        payment_method: "pm_card_authenticationRequiredOnSetup",
        confirm: true,
        return_url: "https://example.com/back",
      });
      assert.equal(si.status, "requires_action");
      assert.equal(si.next_action?.type, "redirect_to_url");
      assert.equal(si.next_action?.redirect_to_url?.return_url, "https://example.com/back");
      assert.ok(si.next_action?.redirect_to_url?.url);
      // Test control over HTTP: the customer completes 3-D Secure.
      const res = await fetch(
        `${t.emulator().emulator.url}/_emulator/setup_intents/${si.id}/confirm`,
        {
          method: "POST",
        },
      );
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as Stripe.SetupIntent).status, "succeeded");
    },
  );

  test(
    "an authenticationRequiredOnSetup card set up off-session then renews without action",
    emulatorOnly(BROWSER),
    async () => {
      const { customer, si } = await setUp("pm_card_authenticationRequiredOnSetup", {
        confirm: true,
      });
      assert.equal(si.status, "requires_action");
      // Test control: the customer completes 3-D Secure in the browser.
      await t.emulator().emulator.confirmSetupIntent(si.id);
      const pm = String((await t.stripe.setupIntents.retrieve(si.id)).payment_method);
      const price = await monthlyPrice(t.stripe);
      const sub = await t.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price.id }],
        default_payment_method: pm,
      });
      assert.equal(sub.status, "active");
      await t.emulator().emulator.advanceTime(32 * DAY);
      const invoices = await t.stripe.invoices.list({ subscription: sub.id });
      assert.equal(invoices.data.length, 2);
      assert.ok(invoices.data.every((inv) => inv.status === "paid"));
    },
  );
});

describe("the customer confirms in the browser (client_secret flow)", () => {
  test(
    "a SetupIntent without a card is confirmed by the customer with one",
    emulatorOnly(BROWSER),
    async () => {
      const customer = await newCustomer();
      const si = await t.stripe.setupIntents.create({ customer: customer.id });
      assert.equal(si.status, "requires_payment_method");
      // Test control over HTTP: Stripe.js confirms the client_secret with a card the customer enters.
      const res = await fetch(
        `${t.emulator().emulator.url}/_emulator/setup_intents/${si.id}/confirm`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ payment_method: "pm_card_authenticationRequired" }),
        },
      );
      assert.equal(res.status, 200);
      const done = await t.stripe.setupIntents.retrieve(si.id, { expand: ["payment_method"] });
      assert.equal(done.status, "succeeded");
      assert.equal((done.payment_method as Stripe.PaymentMethod).customer, customer.id);
    },
  );

  test(
    "a card declined in the browser leaves the decline on the SetupIntent",
    emulatorOnly(BROWSER),
    async () => {
      const customer = await newCustomer();
      const si = await t.stripe.setupIntents.create({ customer: customer.id });
      // Test control: the customer enters a declining card.
      await t
        .emulator()
        .emulator.confirmSetupIntent(si.id, "pm_card_chargeDeclinedInsufficientFunds");
      const after = await t.stripe.setupIntents.retrieve(si.id);
      assert.equal(after.status, "requires_payment_method");
      assert.equal(after.last_setup_error?.decline_code, "insufficient_funds");
    },
  );

  test(
    "a past_due customer sets up a new card, makes it the default and pays the open invoice",
    emulatorOnly(BROWSER),
    async () => {
      const customer = await newCustomer();
      const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
        customer: customer.id,
      });
      await t.stripe.customers.update(customer.id, {
        invoice_settings: { default_payment_method: failing.id },
      });
      const price = await monthlyPrice(t.stripe);
      const sub = await t.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price.id }],
        trial_period_days: 1,
      });
      await t.emulator().emulator.advanceTime(DAY + 2 * 3600);
      const overdue = await t.stripe.subscriptions.retrieve(sub.id);
      assert.equal(overdue.status, "past_due");
      const si = await t.stripe.setupIntents.create({ customer: customer.id });
      // Test control: the customer enters a new card on the app's card-update page.
      await t.emulator().emulator.confirmSetupIntent(si.id, "pm_card_visa");
      const pm = String((await t.stripe.setupIntents.retrieve(si.id)).payment_method);
      await t.stripe.customers.update(customer.id, {
        invoice_settings: { default_payment_method: pm },
      });
      await t.stripe.subscriptions.update(sub.id, { default_payment_method: pm });
      const paid = await t.stripe.invoices.pay(String(overdue.latest_invoice));
      assert.equal(paid.status, "paid");
      assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "active");
    },
  );
});

describe("SetupIntent rules Stripe enforces", () => {
  test("a server-side confirmation with redirect-capable payment methods needs a return_url", async () => {
    const customer = await newCustomer();
    const si = await t.stripe.setupIntents.create({
      customer: customer.id,
      payment_method: "pm_card_visa",
    });
    assert.deepEqual(si.automatic_payment_methods, { allow_redirects: "always", enabled: true });
    await assert.rejects(t.stripe.setupIntents.confirm(si.id), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.match(err.message, /^A `return_url` must be specified because this Setup Intent/);
      return true;
    });
    await assert.rejects(
      t.stripe.setupIntents.create({
        automatic_payment_methods: { allow_redirects: "never" } as never,
      }),
      { code: "parameter_missing", param: "automatic_payment_methods[enabled]" },
    );
    const done = await t.stripe.setupIntents.confirm(si.id, {
      return_url: "https://example.com/back",
    });
    assert.equal(done.status, "succeeded");
  });

  test("confirming without a payment method is refused", async () => {
    const si = await t.stripe.setupIntents.create({ automatic_payment_methods: noRedirects });
    assert.equal(si.status, "requires_payment_method");
    await assert.rejects(t.stripe.setupIntents.confirm(si.id), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.code, "setup_intent_unexpected_state");
      return true;
    });
  });

  test("a succeeded SetupIntent cannot be confirmed or canceled again", async () => {
    const { si } = await setUp("pm_card_visa", { confirm: true });
    for (const call of [
      () => t.stripe.setupIntents.confirm(si.id),
      () => t.stripe.setupIntents.cancel(si.id),
    ]) {
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.equal(err.code, "setup_intent_unexpected_state");
        return true;
      });
    }
  });

  test("cancel records the reason and sends setup_intent.canceled", async () => {
    const { si } = await setUp("pm_card_visa");
    const canceled = await t.stripe.setupIntents.cancel(si.id, {
      cancellation_reason: "abandoned",
    });
    assert.equal(canceled.status, "canceled");
    assert.equal(canceled.cancellation_reason, "abandoned");
    assert.deepEqual(await typesFor(si.id, "setup_intent.canceled"), [
      "setup_intent.created",
      "setup_intent.canceled",
    ]);
  });

  test("unknown parameters and bad enum values are refused", async () => {
    await assert.rejects(
      t.stripe.setupIntents.create({ payment_method_types: ["card"] } as never),
      /Received unknown parameter: payment_method_types/,
    );
    await assert.rejects(t.stripe.setupIntents.create({ usage: "sometimes" }), {
      param: "usage",
    });
  });

  test("a missing customer or SetupIntent is resource_missing", async () => {
    await assert.rejects(t.stripe.setupIntents.create({ customer: "cus_nope" }), {
      code: "resource_missing",
    });
    await assert.rejects(t.stripe.setupIntents.retrieve("seti_nope"), {
      code: "resource_missing",
      statusCode: 404,
    });
  });
});

describe("update and list", () => {
  test("update sets metadata, description and a payment method", async () => {
    const si = await t.stripe.setupIntents.create({ automatic_payment_methods: noRedirects });
    const updated = await t.stripe.setupIntents.update(si.id, {
      payment_method: "pm_card_visa",
      description: "Card for renewals",
      metadata: { plan: "pro" },
    });
    assert.equal(updated.status, "requires_confirmation");
    assert.equal(updated.description, "Card for renewals");
    assert.deepEqual(updated.metadata, { plan: "pro" });
  });

  test("list filters by customer and by payment_method", async () => {
    const a = await setUp("pm_card_visa", { confirm: true });
    await setUp("pm_card_visa", { confirm: true });
    const byCustomer = await t.stripe.setupIntents.list({ customer: a.customer.id });
    assert.deepEqual(
      byCustomer.data.map((s) => s.id),
      [a.si.id],
    );
    const byPm = await t.stripe.setupIntents.list({ payment_method: String(a.si.payment_method) });
    assert.deepEqual(
      byPm.data.map((s) => s.id),
      [a.si.id],
    );
    assert.equal((await t.stripe.setupIntents.list({ limit: 1 })).has_more, true);
  });

  test("a subscription's pending_setup_intent can be confirmed, which clears it", async () => {
    const customer = await newCustomer();
    const price = await monthlyPrice(t.stripe);
    const sub = await t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 14,
      payment_behavior: "default_incomplete",
      expand: ["pending_setup_intent"],
    });
    const pending = sub.pending_setup_intent as Stripe.SetupIntent;
    assert.equal(pending.object, "setup_intent");
    const done = await t.stripe.setupIntents.confirm(pending.id, {
      payment_method: "pm_card_visa",
      return_url: "https://example.com/back",
    });
    assert.equal(done.status, "succeeded");
    assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).pending_setup_intent, null);
  });
});
