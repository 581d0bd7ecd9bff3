import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Stripe from "stripe";
import { type Harness, harness, subscribed } from "./helpers.ts";

let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

async function newCustomer() {
  return h.stripe.customers.create({ email: `p${Math.random()}@example.com` });
}

describe("paymentMethods.create", () => {
  test("a test token gives a new unattached card with that card's brand and last4", async () => {
    const pm = await h.stripe.paymentMethods.create({
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
    const again = await h.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_mastercard" },
    });
    assert.notEqual(again.id, pm.id);
  });

  test("a card from a declining token is created, then refused at attach", async () => {
    const pm = await h.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_chargeDeclined" },
    });
    const customer = await newCustomer();
    await assert.rejects(
      h.stripe.paymentMethods.attach(pm.id, { customer: customer.id }),
      (err) => {
        assert.ok(err instanceof Stripe.errors.StripeCardError);
        assert.equal(err.decline_code, "generic_decline");
        return true;
      },
    );
    assert.equal((await h.stripe.paymentMethods.retrieve(pm.id)).customer, null);
  });

  test("a created card attaches and can pay a subscription", async () => {
    const pm = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    const customer = await newCustomer();
    const attached = await h.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    assert.equal(attached.customer, customer.id);
    const product = await h.stripe.products.create({ name: "Pro" });
    const price = await h.stripe.prices.create({
      product: product.id,
      unit_amount: 500,
      currency: "usd",
      recurring: { interval: "month" },
    });
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: pm.id,
    });
    assert.equal(sub.status, "active");
  });

  test("raw card numbers are refused, as in a test-mode account without raw card data access", async () => {
    await assert.rejects(
      h.stripe.paymentMethods.create({
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
      h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_nope" } }),
      /No such token: 'tok_nope'/,
    );
    await assert.rejects(
      h.stripe.paymentMethods.create({ card: { token: "tok_visa" } }),
      /Missing required param: type/,
    );
    await assert.rejects(
      h.stripe.paymentMethods.create({
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
    const pm = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const updated = await h.stripe.paymentMethods.update(pm.id, {
      billing_details: { email: "bill@example.com" },
      card: { exp_month: 3, exp_year: 2041 },
      metadata: { nickname: "work" },
    });
    assert.equal(updated.billing_details.email, "bill@example.com");
    assert.equal(updated.card?.exp_month, 3);
    assert.equal(updated.card?.exp_year, 2041);
    assert.deepEqual(updated.metadata, { nickname: "work" });
    await h.emulator.idle();
    const event = h.receiver.events().find((e) => e.type === "payment_method.updated");
    assert.ok(event);
    // Stripe names an added metadata key with its old value, null.
    assert.deepEqual(event.data.previous_attributes?.metadata, { nickname: null });
  });

  test("an unattached payment method cannot be updated", async () => {
    const pm = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    await assert.rejects(
      h.stripe.paymentMethods.update(pm.id, { metadata: { a: "b" } }),
      /You must save this PaymentMethod to a customer before you can update it/,
    );
  });
});

describe("charges", () => {
  test("list filters by customer and payment_intent, newest first", async () => {
    const a = await subscribed(h.stripe);
    const b = await subscribed(h.stripe);
    const all = await h.stripe.charges.list();
    assert.equal(all.data.length, 2);
    assert.ok((all.data[0]?.created ?? 0) >= (all.data[1]?.created ?? 0));
    const mine = await h.stripe.charges.list({ customer: a.customer.id });
    assert.equal(mine.data.length, 1);
    const charge = mine.data[0];
    assert.ok(charge);
    assert.equal(charge.customer, a.customer.id);
    const byPi = await h.stripe.charges.list({ payment_intent: String(charge.payment_intent) });
    assert.deepEqual(
      byPi.data.map((c) => c.id),
      [charge.id],
    );
    assert.equal(
      (await h.stripe.charges.list({ customer: b.customer.id, limit: 1 })).has_more,
      false,
    );
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.equal((await h.stripe.charges.list({ created: { gte: future } })).data.length, 0);
  });

  test("retrieve, and update of description and metadata with charge.updated", async () => {
    const { customer } = await subscribed(h.stripe);
    const [charge] = (await h.stripe.charges.list({ customer: customer.id })).data;
    assert.ok(charge);
    assert.equal((await h.stripe.charges.retrieve(charge.id)).id, charge.id);
    const updated = await h.stripe.charges.update(charge.id, {
      description: "Pro plan",
      metadata: { order: "42" },
    });
    assert.equal(updated.description, "Pro plan");
    assert.deepEqual(updated.metadata, { order: "42" });
    await h.emulator.idle();
    assert.ok(h.receiver.types().includes("charge.updated"));
    await assert.rejects(
      h.stripe.charges.update(charge.id, { receipt_email: "x@example.com" }),
      /Received unknown parameter: receipt_email/,
    );
  });
});
