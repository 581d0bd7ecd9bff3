import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  type BillingTestApp,
  type Customer,
  DAY,
  latestPaymentIntent,
  startBillingApp,
} from "../helpers/billing.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

const path = "/api/subscriptions/payment-method/";
const setCard = (buyer: Customer, card?: string) =>
  t.http("POST", path, {
    token: buyer.token,
    body: card === undefined ? {} : { payment_method_id: card },
  });

/** A subscriber whose renewal failed: the card on the subscription declines every charge. */
async function pastDueSubscriber(): Promise<{ buyer: Customer; subId: string }> {
  const buyer = await t.signUp();
  const plan = await t.plan({ amount: 999 });
  const created = await t.subscribe(buyer, plan.id);
  const subId: string = created.body.subscription.stripe_subscription_id;
  const customerId = String((await t.stripe.subscriptions.retrieve(subId)).customer);
  const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
    customer: customerId,
  });
  await t.stripe.subscriptions.update(subId, { default_payment_method: failing.id });
  await t.advance(31 * DAY + 2 * 3600);
  const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
  assert.equal(status.body.status, "past_due");
  return { buyer, subId };
}

describe("payment-method/", () => {
  beforeEach(() => t.resetStripe());

  test("GET answers null before any card, then the default card's brand, last4 and expiry", async () => {
    const buyer = await t.signUp();
    const none = await t.http("GET", path, { token: buyer.token });
    assert.deepEqual([none.status, none.body], [200, { payment_method: null }]);
    const plan = await t.plan();
    await t.subscribe(buyer, plan.id);
    const card = await t.http("GET", path, { token: buyer.token });
    assert.equal(card.status, 200);
    assert.equal(card.body.payment_method.brand, "visa");
    assert.equal(card.body.payment_method.last4, "4242");
    assert.ok(card.body.payment_method.exp_year > 2000);
    assert.ok(card.body.payment_method.exp_month >= 1);
  });

  test("without a card, a SetupIntent for the user's customer; the card it saves becomes the default", async () => {
    const buyer = await t.signUp();
    const started = await setCard(buyer);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.match(started.body.client_secret, /^seti_.*_secret_/);
    const intent = await t.stripe.setupIntents.retrieve(started.body.setup_intent_id);
    const customers = await t.stripe.customers.list({ email: buyer.email });
    assert.equal(intent.customer, customers.data[0]?.id);
    await t.emulator.confirmSetupIntent(intent.id, "pm_card_mastercard");
    const confirmed = await t.stripe.setupIntents.retrieve(intent.id);
    assert.equal(confirmed.status, "succeeded");
    const set = await setCard(buyer, String(confirmed.payment_method));
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.payment_method.brand, "mastercard");
    assert.equal(set.body.subscription, null);
    const card = await t.http("GET", path, { token: buyer.token });
    assert.equal(card.body.payment_method.id, confirmed.payment_method);
  });

  test("a new card is the default of the customer and of the subscription", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    const created = await t.subscribe(buyer, plan.id);
    const set = await setCard(buyer, "pm_card_mastercard");
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.subscription.status, "active");
    const sub = await t.stripe.subscriptions.retrieve(
      created.body.subscription.stripe_subscription_id,
    );
    assert.equal(sub.default_payment_method, set.body.payment_method.id);
    assert.equal(set.body.payment_method.brand, "mastercard");
  });

  test("a past_due subscription's open invoice is paid at once with the new card", async () => {
    const { buyer } = await pastDueSubscriber();
    const set = await setCard(buyer, "pm_card_visa");
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.subscription.status, "active");
    assert.equal(set.body.client_secret, undefined);
    await t.settle();
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
    const pays = await t.paymentsOf(buyer.userId);
    assert.deepEqual(
      pays.map((p) => p.status),
      ["succeeded", "failed", "succeeded"],
    );
    const invoices = await t.http("GET", "/api/subscriptions/invoices/", { token: buyer.token });
    assert.deepEqual(
      invoices.body.results.map((i: { status: string }) => i.status),
      ["paid", "paid"],
    );
  });

  test("a declined card is a 402 and the subscription stays past_due", async () => {
    const { buyer } = await pastDueSubscriber();
    const declined = await setCard(buyer, "pm_card_chargeCustomerFail");
    assert.equal(declined.status, 402, JSON.stringify(declined.body));
    assert.equal(typeof declined.body.error, "string");
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "past_due");
    const atAttach = await setCard(buyer, "pm_card_visa_chargeDeclined");
    assert.equal(atAttach.status, 402);
  });

  test("a card that needs 3-D Secure answers the invoice's client_secret; confirmed, the user is active", async () => {
    const { buyer, subId } = await pastDueSubscriber();
    const set = await setCard(buyer, "pm_card_authenticationRequired");
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(typeof set.body.client_secret, "string");
    assert.equal(set.body.message, "Payment requires authentication.");
    await t.emulator.confirmPaymentIntent(await latestPaymentIntent(t.stripe, subId));
    await t.settle();
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
  });

  test("another user's card cannot be used, nor an unknown one", async () => {
    const owner = await t.signUp();
    const other = await t.signUp();
    const started = await setCard(owner);
    await t.emulator.confirmSetupIntent(started.body.setup_intent_id, "pm_card_visa");
    const pm = String(
      (await t.stripe.setupIntents.retrieve(started.body.setup_intent_id)).payment_method,
    );
    const stolen = await setCard(other, pm);
    assert.deepEqual(
      [stolen.status, stolen.body],
      [400, { error: "This payment method cannot be used." }],
    );
    const unknown = await setCard(other, "pm_nope");
    assert.equal(unknown.status, 400);
    const mine = await t.http("GET", path, { token: other.token });
    assert.deepEqual(mine.body, { payment_method: null });
    const empty = await t.http("POST", path, {
      token: other.token,
      body: { payment_method_id: "" },
    });
    assert.equal(empty.status, 400);
    assert.ok(empty.body.payment_method_id);
  });
});
