import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Stripe from "stripe";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { customerWithCard, monthlyPrice } from "./helpers.ts";

// Written against a target (contract/target.ts), so they run on Stripe's test mode too; paying
// on the hosted page and waiting a day for expiry need the emulator's controls.
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

const BROWSER = "paying or saving a card on the hosted page is the customer's browser at Stripe";

const urls = { success_url: "https://example.com/ok", cancel_url: "https://example.com/no" };

async function subscriptionSession(quantity = 2) {
  const price = await monthlyPrice(t.stripe, 1500);
  const session = await t.stripe.checkout.sessions.create({
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
    const items = await t.stripe.checkout.sessions.listLineItems(session.id);
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
    const got = await t.stripe.checkout.sessions.retrieve(session.id, {
      expand: ["line_items.data.price.product"],
    });
    const product = got.line_items?.data[0]?.price?.product as Stripe.Product;
    assert.equal(product.object, "product");
    const price = await monthlyPrice(t.stripe);
    const created = await t.stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id }],
      expand: ["line_items"],
      ...urls,
    });
    assert.equal(created.line_items?.data.length, 1);
  });

  test("allow_promotion_codes is recorded on the session, null when not asked", async () => {
    const price = await monthlyPrice(t.stripe);
    const base = { mode: "subscription" as const, line_items: [{ price: price.id }], ...urls };
    const asked = await t.stripe.checkout.sessions.create({ ...base, allow_promotion_codes: true });
    assert.equal(asked.allow_promotion_codes, true);
    assert.equal((await t.stripe.checkout.sessions.retrieve(asked.id)).allow_promotion_codes, true);
    const plain = await t.stripe.checkout.sessions.create(base);
    assert.equal(plain.allow_promotion_codes, null);
  });

  test("listLineItems of an unknown session is resource_missing", async () => {
    await assert.rejects(t.stripe.checkout.sessions.listLineItems("cs_test_nope"), {
      code: "resource_missing",
      statusCode: 404,
    });
  });
});

describe("listing and expiring sessions", () => {
  test("list filters by customer, status and subscription", emulatorOnly(BROWSER), async () => {
    const { customer } = await customerWithCard(t.stripe);
    const price = await monthlyPrice(t.stripe);
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: "subscription",
      line_items: [{ price: price.id }],
      ...urls,
    };
    const paid = await t.stripe.checkout.sessions.create({ ...params, customer: customer.id });
    const open = await t.stripe.checkout.sessions.create({ ...params, customer: customer.id });
    await t.stripe.checkout.sessions.create(params);
    // Test control: the customer pays on the hosted page.
    await t.emulator().emulator.completeCheckoutSession(paid.id);
    const completed = await t.stripe.checkout.sessions.retrieve(paid.id);
    const ids = async (p: Stripe.Checkout.SessionListParams) =>
      (await t.stripe.checkout.sessions.list(p)).data.map((s) => s.id);
    assert.deepEqual(await ids({ customer: customer.id }), [open.id, paid.id]);
    assert.deepEqual(await ids({ customer: customer.id, status: "open" }), [open.id]);
    assert.deepEqual(await ids({ subscription: String(completed.subscription) }), [paid.id]);
    assert.equal(completed.customer_details?.email, customer.email);
    const email = String(customer.email);
    assert.deepEqual(await ids({ customer_details: { email } }), [paid.id]);
    assert.equal((await t.stripe.checkout.sessions.list({ status: "expired" })).data.length, 0);
  });

  test("expire closes an open session with checkout.session.expired; a second expire is refused", async () => {
    const { session } = await subscriptionSession();
    const expired = await t.stripe.checkout.sessions.expire(session.id);
    assert.equal(expired.status, "expired");
    assert.equal(expired.url, null);
    const events = await t.eventsAbout(session.id, { type: "checkout.session.expired" });
    assert.equal(events.length, 1);
    await assert.rejects(t.stripe.checkout.sessions.expire(session.id), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(
        err.message,
        'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of `expired`.',
      );
      return true;
    });
  });

  test(
    "a paid session cannot be expired, and an expired one cannot be paid",
    emulatorOnly(BROWSER),
    async () => {
      const { customer } = await customerWithCard(t.stripe);
      const price = await monthlyPrice(t.stripe, 900);
      const open = () =>
        t.stripe.checkout.sessions.create({
          mode: "subscription",
          customer: customer.id,
          line_items: [{ price: price.id, quantity: 1 }],
          ...urls,
        });
      const paid = await open();
      await t.emulator().emulator.completeCheckoutSession(paid.id);
      await assert.rejects(t.stripe.checkout.sessions.expire(paid.id), (err) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.match(
          err.message,
          /can be expired\. This Checkout Session has a status of `complete`\.$/,
        );
        return true;
      });
      const closed = await open();
      await t.stripe.checkout.sessions.expire(closed.id);
      await assert.rejects(
        t.emulator().emulator.completeCheckoutSession(closed.id),
        /This Checkout Session is expired/,
      );
      const subs = await t.stripe.subscriptions.list({ customer: customer.id });
      assert.equal(subs.data.length, 1, "only the paid session made a subscription");
    },
  );
});

test(
  "an open session expires by itself at expires_at, 24 hours after creation",
  emulatorOnly("a Checkout Session is on no test clock: a day must pass at Stripe"),
  async () => {
    const { session } = await subscriptionSession();
    assert.equal(session.expires_at - session.created, 86_400);
    await t.emulator().emulator.advanceTime(86_400 - 60);
    assert.equal((await t.stripe.checkout.sessions.retrieve(session.id)).status, "open");
    await t.emulator().emulator.advanceTime(120);
    const expired = await t.stripe.checkout.sessions.retrieve(session.id);
    assert.equal(expired.status, "expired");
    const [event] = await t.eventsAbout(session.id, { type: "checkout.session.expired" });
    assert.equal(event?.created, session.expires_at);
  },
);

describe("setup mode", () => {
  async function setupSession() {
    const { customer } = await customerWithCard(t.stripe);
    const session = await t.stripe.checkout.sessions.create({
      mode: "setup",
      currency: "usd",
      customer: customer.id,
      setup_intent_data: { metadata: { reason: "past_due" } },
      ...urls,
    });
    return { customer, session };
  }

  test("a setup-mode session has no amounts and no SetupIntent before it is completed", async () => {
    const { session } = await setupSession();
    assert.equal(session.mode, "setup");
    assert.equal(session.amount_total, null);
    assert.equal(session.payment_status, "no_payment_required");
    assert.equal(session.setup_intent, null);
    const items = await t.stripe.checkout.sessions.listLineItems(session.id);
    assert.equal(items.data.length, 0);
  });

  test(
    "a customer saves a card: SetupIntent succeeded, card attached, completed event names it",
    emulatorOnly(BROWSER),
    async () => {
      const { customer, session } = await setupSession();
      // Test control: the customer enters a card on the hosted page.
      await t.emulator().emulator.completeCheckoutSession(session.id, "pm_card_mastercard");
      const done = await t.stripe.checkout.sessions.retrieve(session.id, {
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
      const after = await t.stripe.customers.retrieve(customer.id);
      assert.notEqual((after as Stripe.Customer).invoice_settings.default_payment_method, pm.id);
      const events = await t.eventsAbout(customer.id, {
        until: (es) => es.some((e) => e.type === "checkout.session.completed"),
      });
      const types: string[] = events.map((e) => e.type);
      for (const type of ["setup_intent.succeeded", "payment_method.attached"]) {
        assert.ok(types.includes(type), type);
      }
      const completed = events.find((e) => e.type === "checkout.session.completed");
      const object = completed?.data.object as Stripe.Checkout.Session | undefined;
      assert.equal(object?.setup_intent, si.id);
      assert.equal(object?.mode, "setup");
    },
  );

  test(
    "the hosted page offers to save a card, and saving it completes the session",
    emulatorOnly("the hosted page is the emulator's own"),
    async () => {
      const { customer } = await customerWithCard(t.stripe);
      const session = await t.stripe.checkout.sessions.create({
        mode: "setup",
        currency: "usd",
        customer: customer.id,
        success_url: "https://example.com/ok?session={CHECKOUT_SESSION_ID}",
      });
      const page = await fetch(String(session.url));
      assert.equal(page.status, 200);
      const form = await page.text();
      assert.match(form, /Save card/);
      assert.match(form, /value="pm_card_visa"/);
      // The customer's browser submits the form, and is sent on to success_url.
      const saved = await fetch(String(session.url), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "payment_method=pm_card_visa",
        redirect: "manual",
      });
      assert.equal(saved.status, 303);
      assert.equal(saved.headers.get("location"), `https://example.com/ok?session=${session.id}`);
      assert.match(await (await fetch(String(session.url))).text(), /Card saved/);
      assert.equal((await t.stripe.checkout.sessions.retrieve(session.id)).status, "complete");
    },
  );

  test("a declined card leaves the session open", emulatorOnly(BROWSER), async () => {
    const { customer } = await customerWithCard(t.stripe);
    const session = await t.stripe.checkout.sessions.create({
      mode: "setup",
      currency: "usd",
      customer: customer.id,
      ...urls,
    });
    // Test control: the customer's card is declined on the hosted page.
    await assert.rejects(
      t.emulator().emulator.completeCheckoutSession(session.id, "pm_card_visa_chargeDeclined"),
    );
    assert.equal((await t.stripe.checkout.sessions.retrieve(session.id)).status, "open");
  });

  test("setup mode refuses line_items and needs a currency", async () => {
    const price = await monthlyPrice(t.stripe);
    await assert.rejects(
      t.stripe.checkout.sessions.create({
        mode: "setup",
        currency: "usd",
        line_items: [{ price: price.id }],
        ...urls,
      }),
      { param: "line_items" },
    );
    await assert.rejects(t.stripe.checkout.sessions.create({ mode: "setup", ...urls }), {
      code: "parameter_missing",
      param: "currency",
    });
  });
});
