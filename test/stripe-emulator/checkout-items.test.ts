import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Stripe from "stripe";
import { customerWithCard, type Harness, harness, monthlyPrice } from "./helpers.ts";

let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

const urls = { success_url: "https://example.com/ok", cancel_url: "https://example.com/no" };

async function subscriptionSession(quantity = 2) {
  const price = await monthlyPrice(h.stripe, 1500);
  const session = await h.stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: price.id, quantity }],
    customer_email: `c${Math.random()}@example.com`,
    ...urls,
  });
  return { price, session };
}

describe("Checkout line items", () => {
  test("listLineItems answers Stripe's item with amounts, price and product name", async () => {
    const { price, session } = await subscriptionSession(2);
    const items = await h.stripe.checkout.sessions.listLineItems(session.id);
    assert.equal(items.object, "list");
    assert.equal(items.url, `/v1/checkout/sessions/${session.id}/line_items`);
    const [item] = items.data;
    assert.ok(item);
    assert.equal(item.object, "item");
    assert.match(item.id, /^li_/);
    assert.equal(item.quantity, 2);
    assert.equal(item.amount_subtotal, 3000);
    assert.equal(item.amount_total, 3000);
    assert.equal(item.currency, "usd");
    assert.equal(item.description, "Pro");
    assert.equal(item.price?.id, price.id);
    assert.equal(session.amount_total, 3000);
  });

  test("line_items is only there when expanded, on create and retrieve", async () => {
    const { session } = await subscriptionSession();
    assert.equal(session.line_items, undefined);
    const got = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ["line_items.data.price.product"],
    });
    const product = got.line_items?.data[0]?.price?.product as Stripe.Product;
    assert.equal(product.object, "product");
    const price = await monthlyPrice(h.stripe);
    const created = await h.stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id }],
      expand: ["line_items"],
      ...urls,
    });
    assert.equal(created.line_items?.data.length, 1);
  });

  test("listLineItems of an unknown session is resource_missing", async () => {
    await assert.rejects(h.stripe.checkout.sessions.listLineItems("cs_test_nope"), {
      code: "resource_missing",
      statusCode: 404,
    });
  });
});

describe("listing and expiring sessions", () => {
  test("list filters by customer, status and subscription", async () => {
    const { customer } = await customerWithCard(h.stripe);
    const price = await monthlyPrice(h.stripe);
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: "subscription",
      line_items: [{ price: price.id }],
      ...urls,
    };
    const paid = await h.stripe.checkout.sessions.create({ ...params, customer: customer.id });
    const open = await h.stripe.checkout.sessions.create({ ...params, customer: customer.id });
    await h.stripe.checkout.sessions.create(params);
    // Test control: the customer pays on the hosted page.
    await h.emulator.completeCheckoutSession(paid.id);
    const completed = await h.stripe.checkout.sessions.retrieve(paid.id);
    const ids = async (p: Stripe.Checkout.SessionListParams) =>
      (await h.stripe.checkout.sessions.list(p)).data.map((s) => s.id);
    assert.deepEqual(await ids({ customer: customer.id }), [open.id, paid.id]);
    assert.deepEqual(await ids({ customer: customer.id, status: "open" }), [open.id]);
    assert.deepEqual(await ids({ subscription: String(completed.subscription) }), [paid.id]);
    assert.equal((await h.stripe.checkout.sessions.list({ status: "expired" })).data.length, 0);
  });

  test("expire closes an open session with checkout.session.expired; a second expire is refused", async () => {
    const { session } = await subscriptionSession();
    const expired = await h.stripe.checkout.sessions.expire(session.id);
    assert.equal(expired.status, "expired");
    assert.equal(expired.url, null);
    await h.emulator.idle();
    assert.ok(h.receiver.types().includes("checkout.session.expired"));
    await assert.rejects(h.stripe.checkout.sessions.expire(session.id), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      return true;
    });
    // Test control: the customer can no longer pay it.
    await assert.rejects(h.emulator.completeCheckoutSession(session.id));
  });
});

test("an open session expires by itself at expires_at, 24 hours after creation", async () => {
  const { session } = await subscriptionSession();
  assert.equal(session.expires_at - session.created, 86_400);
  await h.emulator.advanceTime(86_400 - 60);
  assert.equal((await h.stripe.checkout.sessions.retrieve(session.id)).status, "open");
  await h.emulator.advanceTime(120);
  const expired = await h.stripe.checkout.sessions.retrieve(session.id);
  assert.equal(expired.status, "expired");
  await h.emulator.idle();
  const event = h.receiver.events().find((e) => e.type === "checkout.session.expired");
  assert.equal((event?.data.object as Stripe.Checkout.Session | undefined)?.id, session.id);
  assert.equal(event?.created, session.expires_at);
});

describe("setup mode", () => {
  test("a customer saves a card: SetupIntent succeeded, card attached, completed event names it", async () => {
    const { customer } = await customerWithCard(h.stripe);
    const session = await h.stripe.checkout.sessions.create({
      mode: "setup",
      currency: "usd",
      customer: customer.id,
      setup_intent_data: { metadata: { reason: "past_due" } },
      ...urls,
    });
    assert.equal(session.mode, "setup");
    assert.equal(session.amount_total, null);
    assert.equal(session.payment_status, "no_payment_required");
    assert.equal(session.setup_intent, null);
    // Test control: the customer enters a card on the hosted page.
    await h.emulator.completeCheckoutSession(session.id, "pm_card_mastercard");
    const done = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ["setup_intent.payment_method"],
    });
    assert.equal(done.status, "complete");
    const si = done.setup_intent as Stripe.SetupIntent;
    assert.equal(si.status, "succeeded");
    assert.equal(si.customer, customer.id);
    assert.deepEqual(si.metadata, { reason: "past_due" });
    const pm = si.payment_method as Stripe.PaymentMethod;
    assert.equal(pm.customer, customer.id);
    assert.equal(pm.card?.last4, "4444");
    // Stripe leaves the default payment method to the integration.
    const after = await h.stripe.customers.retrieve(customer.id);
    assert.notEqual((after as Stripe.Customer).invoice_settings.default_payment_method, pm.id);
    await h.emulator.idle();
    const types = h.receiver.types();
    for (const type of ["setup_intent.succeeded", "payment_method.attached"]) {
      assert.ok(types.includes(type), type);
    }
    const completed = h.receiver.events().find((e) => e.type === "checkout.session.completed");
    const object = completed?.data.object as Stripe.Checkout.Session | undefined;
    assert.equal(object?.setup_intent, si.id);
    assert.equal(object?.mode, "setup");
  });

  test("the hosted page offers to save a card, and saving it completes the session", async () => {
    const { customer } = await customerWithCard(h.stripe);
    const session = await h.stripe.checkout.sessions.create({
      mode: "setup",
      currency: "usd",
      customer: customer.id,
      success_url: "https://example.com/ok?session={CHECKOUT_SESSION_ID}",
    });
    const page = await fetch(String(session.url));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Save pm_card_visa/);
    // The customer's browser submits the form.
    const saved = await fetch(String(session.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "payment_method=pm_card_visa",
    });
    const html = await saved.text();
    assert.match(html, /Card saved/);
    assert.ok(html.includes(`https://example.com/ok?session=${session.id}`));
    assert.equal((await h.stripe.checkout.sessions.retrieve(session.id)).status, "complete");
  });

  test("a declined card leaves the session open", async () => {
    const { customer } = await customerWithCard(h.stripe);
    const session = await h.stripe.checkout.sessions.create({
      mode: "setup",
      currency: "usd",
      customer: customer.id,
      ...urls,
    });
    // Test control: the customer's card is declined on the hosted page.
    await assert.rejects(
      h.emulator.completeCheckoutSession(session.id, "pm_card_visa_chargeDeclined"),
    );
    assert.equal((await h.stripe.checkout.sessions.retrieve(session.id)).status, "open");
  });

  test("setup mode refuses line_items and needs a currency", async () => {
    const price = await monthlyPrice(h.stripe);
    await assert.rejects(
      h.stripe.checkout.sessions.create({
        mode: "setup",
        currency: "usd",
        line_items: [{ price: price.id }],
        ...urls,
      }),
      { param: "line_items" },
    );
    await assert.rejects(h.stripe.checkout.sessions.create({ mode: "setup", ...urls }), {
      code: "parameter_missing",
      param: "currency",
    });
  });
});
