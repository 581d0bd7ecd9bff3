import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Stripe from "stripe";
import { type ContractTarget, contractTarget } from "./contract/target.ts";
import { subscribed } from "./helpers.ts";

// Written against a target (contract/target.ts), so they run on Stripe's test mode too.
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

async function newCustomer() {
  return t.stripe.customers.create({ email: `p${Math.random()}@example.com` });
}

describe("paymentMethods.create", () => {
  test("a test token gives a new unattached card with that card's brand and last4", async () => {
    const pm = await t.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_mastercard" },
      billing_details: { name: "Ada Lovelace", address: { country: "GB", postal_code: "N1" } },
      metadata: { source: "test" },
    });
    assert.match(pm.id, /^pm_/);
    assert.equal(pm.customer, null);
    assert.equal(pm.card?.brand, "mastercard");
    assert.equal(pm.card?.last4, "4444");
    assert.ok((pm.card?.exp_year ?? 0) > new Date().getUTCFullYear());
    assert.equal(pm.billing_details.name, "Ada Lovelace");
    assert.equal(pm.billing_details.address?.postal_code, "N1");
    assert.equal(pm.billing_details.address?.city, null);
    assert.deepEqual(pm.metadata, { source: "test" });
    const again = await t.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_mastercard" },
    });
    assert.notEqual(again.id, pm.id);
  });

  test("a card from a declining token is created, then refused at attach", async () => {
    const pm = await t.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_chargeDeclined" },
    });
    const customer = await newCustomer();
    await assert.rejects(
      t.stripe.paymentMethods.attach(pm.id, { customer: customer.id }),
      (err) => {
        assert.ok(err instanceof Stripe.errors.StripeCardError);
        assert.equal(err.decline_code, "generic_decline");
        return true;
      },
    );
    assert.equal((await t.stripe.paymentMethods.retrieve(pm.id)).customer, null);
  });

  test("a created card attaches and can pay a subscription", async () => {
    const pm = await t.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    const customer = await newCustomer();
    const attached = await t.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    assert.equal(attached.customer, customer.id);
    const product = await t.stripe.products.create({ name: "Pro" });
    const price = await t.stripe.prices.create({
      product: product.id,
      unit_amount: 500,
      currency: "usd",
      recurring: { interval: "month" },
    });
    const sub = await t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: pm.id,
    });
    assert.equal(sub.status, "active");
  });

  test("raw card numbers are refused, as in a test-mode account without raw card data access", async () => {
    await assert.rejects(
      t.stripe.paymentMethods.create({
        type: "card",
        card: { number: "4242424242424242", exp_month: 12, exp_year: 2040, cvc: "123" },
      }),
      (err) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.match(err.message, /Sending credit card numbers directly to the Stripe API/);
        return true;
      },
    );
  });

  test("an unknown token is refused; so are a missing type and unknown parameters", async () => {
    await assert.rejects(
      t.stripe.paymentMethods.create({ type: "card", card: { token: "tok_nope" } }),
      /No such token: 'tok_nope'/,
    );
    await assert.rejects(
      t.stripe.paymentMethods.create({ card: { token: "tok_visa" } }),
      /Missing required param: type/,
    );
    await assert.rejects(
      t.stripe.paymentMethods.create({
        type: "card",
        card: { token: "tok_visa" },
        foo: 1,
      } as never),
      /Received unknown parameter: foo/,
    );
  });
});

describe("paymentMethods.update", () => {
  test("updates billing details, metadata and expiry of an attached card", async () => {
    const customer = await newCustomer();
    const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const updated = await t.stripe.paymentMethods.update(pm.id, {
      billing_details: { email: "bill@example.com" },
      card: { exp_month: 3, exp_year: 2041 },
      metadata: { nickname: "work" },
    });
    assert.equal(updated.billing_details.email, "bill@example.com");
    assert.equal(updated.card?.exp_month, 3);
    assert.equal(updated.card?.exp_year, 2041);
    assert.deepEqual(updated.metadata, { nickname: "work" });
    const [event] = await t.eventsAbout(pm.id, { type: "payment_method.updated" });
    const previous = event?.data.previous_attributes as Partial<Stripe.PaymentMethod> | undefined;
    // Stripe names an added metadata key with its old value, null.
    assert.deepEqual(previous?.metadata, { nickname: null });
  });

  test("an unattached payment method cannot be updated", async () => {
    const pm = await t.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    await assert.rejects(
      t.stripe.paymentMethods.update(pm.id, { metadata: { a: "b" } }),
      /You must save this PaymentMethod to a customer before you can update it/,
    );
  });
});

describe("charges", () => {
  test("list filters by customer, payment_intent and created", async () => {
    const a = await subscribed(t.stripe);
    const b = await subscribed(t.stripe);
    const mine = await t.stripe.charges.list({ customer: a.customer.id });
    assert.equal(mine.data.length, 1);
    const charge = mine.data[0];
    assert.ok(charge);
    assert.equal(charge.customer, a.customer.id);
    assert.equal(charge.amount, 1000);
    const byPi = await t.stripe.charges.list({ payment_intent: String(charge.payment_intent) });
    assert.deepEqual(
      byPi.data.map((c) => c.id),
      [charge.id],
    );
    const theirs = await t.stripe.charges.list({ customer: b.customer.id, limit: 1 });
    assert.equal(theirs.has_more, false);
    assert.notEqual(theirs.data[0]?.id, charge.id);
    const later = { gt: charge.created + 3600 };
    assert.equal(
      (await t.stripe.charges.list({ customer: a.customer.id, created: later })).data.length,
      0,
    );
  });

  test("retrieve, and update of description and metadata with charge.updated", async () => {
    const { customer } = await subscribed(t.stripe);
    const [charge] = (await t.stripe.charges.list({ customer: customer.id })).data;
    assert.ok(charge);
    assert.equal((await t.stripe.charges.retrieve(charge.id)).id, charge.id);
    const updated = await t.stripe.charges.update(charge.id, {
      description: "Pro plan",
      metadata: { order: "42" },
    });
    assert.equal(updated.description, "Pro plan");
    assert.deepEqual(updated.metadata, { order: "42" });
    const [update] = await t.eventsAbout(charge.id, { type: "charge.updated" });
    const previous = update?.data.previous_attributes as Partial<Stripe.Charge> | undefined;
    assert.deepEqual(previous?.metadata, { order: null });
    await assert.rejects(
      t.stripe.charges.update(charge.id, { receipt_email: "x@example.com" }),
      /Received unknown parameter: receipt_email/,
    );
  });
});
