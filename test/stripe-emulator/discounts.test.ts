import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, at, clockCustomer, latestInvoice } from "./clock.ts";
import { customerWithCard, type Harness, harness, monthlyPrice, subscribed } from "./helpers.ts";
import { refusal } from "./refusal.ts";

/** Discounts on subscriptions and what they take off each invoice, as Stripe bills them. */
let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

function firstInvoice(sub: Stripe.Subscription): Stripe.Invoice {
  const inv = sub.latest_invoice;
  assert.ok(inv && typeof inv !== "string", "latest_invoice expanded");
  return inv;
}

/** A customer on a test clock with a monthly subscription from 2027-01-01 and `discounts`. */
async function clockSubscription(
  amount: number,
  discounts: Stripe.SubscriptionCreateParams.Discount[],
) {
  const { clock, customer } = await clockCustomer(h.stripe, at("2027-01-01T00:00:00Z"));
  const price = await monthlyPrice(h.stripe, amount);
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    discounts,
    expand: ["latest_invoice"],
  });
  return { clock, customer, price, sub };
}

test("a percent-off coupon lowers the first invoice: subtotal before, total and amount due after", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 25, duration: "forever" });
  const { sub, customer } = await subscribed(h.stripe, {
    amount: 1999,
    params: { discounts: [{ coupon: coupon.id }], expand: ["latest_invoice", "discounts"] },
  });
  assert.equal(sub.status, "active");
  const [discount] = sub.discounts as Stripe.Discount[];
  assert.ok(discount && typeof discount !== "string");
  assert.match(discount.id, /^di_/);
  assert.deepEqual(discount.source, { coupon: coupon.id, type: "coupon" });
  assert.equal(discount.subscription, sub.id);
  assert.equal(discount.customer, customer.id);
  assert.equal(discount.end, null);
  assert.equal(discount.start, sub.created);

  const inv = firstInvoice(sub);
  assert.equal(inv.subtotal, 1999);
  // 25 % of 19.99 is 4.9975: rounded to the nearest cent on the line.
  assert.deepEqual(inv.total_discount_amounts, [{ amount: 500, discount: discount.id }]);
  assert.deepEqual(inv.lines.data[0]?.discount_amounts, [{ amount: 500, discount: discount.id }]);
  assert.deepEqual(inv.discounts, [discount.id]);
  assert.equal(inv.total, 1499);
  assert.equal(inv.amount_due, 1499);
  assert.equal(inv.amount_paid, 1499);
  assert.equal(inv.status, "paid");

  const redeemed = await h.stripe.coupons.retrieve(coupon.id);
  assert.equal(redeemed.times_redeemed, 1);
  const created = (await h.stripe.events.list({ type: "customer.discount.created" })).data;
  assert.deepEqual(
    created.map((e) => (e.data.object as Stripe.Discount).id),
    [discount.id],
  );
});

test("an amount-off coupon is taken once per invoice and never below zero", async () => {
  const coupon = await h.stripe.coupons.create({
    amount_off: 1500,
    currency: "usd",
    duration: "forever",
  });
  const { sub } = await subscribed(h.stripe, {
    amount: 1000,
    params: { discounts: [{ coupon: coupon.id }], expand: ["latest_invoice"] },
  });
  const inv = firstInvoice(sub);
  assert.equal(inv.subtotal, 1000);
  assert.equal(inv.total_discount_amounts?.[0]?.amount, 1000, "capped at the subtotal");
  assert.equal(inv.total, 0);
  assert.equal(inv.amount_due, 0);
});

test("a 100 % coupon makes the invoice free: paid without a PaymentIntent", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 100, duration: "once" });
  const { customer } = await customerWithCard(h.stripe, "pm_card_chargeCustomerFail");
  const price = await monthlyPrice(h.stripe, 3000);
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    discounts: [{ coupon: coupon.id }],
    payment_behavior: "error_if_incomplete",
    expand: ["latest_invoice.payments"],
  });
  assert.equal(sub.status, "active", "nothing to charge, so a failing card does not matter");
  const inv = firstInvoice(sub);
  assert.equal(inv.total, 0);
  assert.equal(inv.amount_due, 0);
  assert.equal(inv.status, "paid");
  assert.equal(inv.payments?.data.length, 0);
  assert.equal((await h.stripe.paymentIntents.list({ customer: customer.id })).data.length, 0);
});

test("a once coupon lowers only the first invoice; the discount ends before the next", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 50, duration: "once" });
  const { clock, sub } = await clockSubscription(2000, [{ coupon: coupon.id }]);
  assert.equal(firstInvoice(sub).total, 1000);
  assert.equal(sub.discounts.length, 1, "the subscription shows the discount until the renewal");

  await advanceClock(h.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  const renewal = await latestInvoice(h.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.total, 2000);
  assert.deepEqual(renewal.discounts, []);
  assert.deepEqual(renewal.total_discount_amounts, []);
  assert.deepEqual((await h.stripe.subscriptions.retrieve(sub.id)).discounts, []);
  const deleted = (await h.stripe.events.list({ type: "customer.discount.deleted" })).data;
  assert.equal(deleted.length, 1);
});

test("a repeating coupon lowers the invoices of its months, then ends", async () => {
  const coupon = await h.stripe.coupons.create({
    percent_off: 10,
    duration: "repeating",
    duration_in_months: 2,
  });
  const { clock, sub } = await clockSubscription(1000, [{ coupon: coupon.id }]);
  const [id] = sub.discounts;
  assert.ok(typeof id === "string");
  const discount = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["discounts"] });
  assert.equal((discount.discounts[0] as Stripe.Discount).end, at("2027-03-01T00:00:00Z"));
  assert.equal(firstInvoice(sub).total, 900);
  const nextRenewal = await h.stripe.invoices.createPreview({ subscription: sub.id });
  assert.equal(nextRenewal.total, 900, "the preview of the second month is discounted");

  await advanceClock(h.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  assert.equal((await latestInvoice(h.stripe, sub.id)).total, 900, "second month discounted");
  const lastPreview = await h.stripe.invoices.createPreview({ subscription: sub.id });
  assert.equal(lastPreview.total, 1000, "the third month's preview is past the discount's end");
  await advanceClock(h.stripe, clock.id, at("2027-03-01T02:00:00Z"));
  const third = await latestInvoice(h.stripe, sub.id);
  assert.equal(third.total, 1000, "the discount ended with its two months");
  assert.deepEqual((await h.stripe.subscriptions.retrieve(sub.id)).discounts, []);
  const deleted = (await h.stripe.events.list({ type: "customer.discount.deleted" })).data;
  assert.deepEqual(
    deleted.map((e) => (e.data.object as Stripe.Discount).id),
    [id],
  );
});

test("the customer balance is applied after the discount", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 50, duration: "forever" });
  const { customer } = await customerWithCard(h.stripe);
  await h.stripe.customers.createBalanceTransaction(customer.id, {
    amount: -300,
    currency: "usd",
  });
  const price = await monthlyPrice(h.stripe, 2000);
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    discounts: [{ coupon: coupon.id }],
    expand: ["latest_invoice"],
  });
  const inv = firstInvoice(sub);
  assert.equal(inv.subtotal, 2000);
  assert.equal(inv.total, 1000);
  assert.equal(inv.starting_balance, -300);
  assert.equal(inv.amount_due, 700);
});

test("a promotion code is redeemed on update, counted, and refused once used up", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 20, duration: "forever" });
  const promo = await h.stripe.promotionCodes.create({
    promotion: { type: "coupon", coupon: coupon.id },
    code: "ONEUSE",
    max_redemptions: 1,
  });
  const { sub } = await subscribed(h.stripe, { amount: 1000 });
  const updated = await h.stripe.subscriptions.update(sub.id, {
    discounts: [{ promotion_code: promo.id }],
    expand: ["discounts"],
  });
  const [discount] = updated.discounts as Stripe.Discount[];
  assert.equal(discount?.promotion_code, promo.id);
  assert.equal((await h.stripe.promotionCodes.retrieve(promo.id)).times_redeemed, 1);
  const [change] = (await h.stripe.events.list({ type: "customer.subscription.updated" })).data;
  assert.deepEqual(change?.data.previous_attributes, { discounts: [] });

  const other = await subscribed(h.stripe);
  const used = await refusal(
    h.stripe.subscriptions.update(other.sub.id, { discounts: [{ promotion_code: promo.id }] }),
  );
  assert.equal(used.statusCode, 400);
  assert.equal(used.param, "discounts[0][promotion_code]");
  assert.deepEqual((await h.stripe.subscriptions.retrieve(other.sub.id)).discounts, []);
});

test("a promotion code's restrictions are enforced: active, customer, first time, minimum", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 20, duration: "forever" });
  const promotion = { type: "coupon" as const, coupon: coupon.id };
  const { customer, price } = await subscribed(h.stripe, { amount: 1000 });
  const someoneElse = await h.stripe.customers.create({ email: "else@example.com" });
  const codes = [
    await h.stripe.promotionCodes.create({ promotion, active: false }),
    await h.stripe.promotionCodes.create({ promotion, customer: someoneElse.id }),
    await h.stripe.promotionCodes.create({
      promotion,
      restrictions: { first_time_transaction: true },
    }),
    await h.stripe.promotionCodes.create({
      promotion,
      restrictions: { minimum_amount: 5000, minimum_amount_currency: "usd" },
    }),
  ];
  for (const code of codes) {
    const err = await refusal(
      h.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price.id }],
        discounts: [{ promotion_code: code.id }],
      }),
    );
    assert.equal(err.statusCode, 400, code.id);
    assert.equal(err.param, "discounts[0][promotion_code]");
  }
  assert.equal((await h.stripe.subscriptions.list({ customer: customer.id })).data.length, 1);
  assert.equal((await h.stripe.coupons.retrieve(coupon.id)).times_redeemed, 0);
});

test("an expired or fully redeemed coupon is refused with coupon_expired", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 20, max_redemptions: 1 });
  await subscribed(h.stripe, { params: { discounts: [{ coupon: coupon.id }] } });
  const spent = await h.stripe.coupons.retrieve(coupon.id);
  assert.equal(spent.valid, false);
  assert.equal(spent.times_redeemed, 1);
  const err = await refusal(
    subscribed(h.stripe, { params: { discounts: [{ coupon: coupon.id }] } }),
  );
  assert.equal(err.code, "coupon_expired");
  assert.equal(err.param, "discounts[0][coupon]");
  const missing = await refusal(
    subscribed(h.stripe, { params: { discounts: [{ coupon: "NONE" }] } }),
  );
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.code, "resource_missing");
  const both = await refusal(
    subscribed(h.stripe, {
      params: { discounts: [{ coupon: coupon.id, promotion_code: "promo_x" }] },
    }),
  );
  assert.equal(both.statusCode, 400);
});

test("an amount-off coupon in another currency cannot be redeemed", async () => {
  const coupon = await h.stripe.coupons.create({ amount_off: 500, currency: "eur" });
  const err = await refusal(
    subscribed(h.stripe, { params: { discounts: [{ coupon: coupon.id }] } }),
  );
  assert.equal(err.statusCode, 400);
  assert.equal(err.param, "discounts[0][coupon]");
});

test("an update keeps a discount by id, replaces the others, and deleteDiscount removes them", async () => {
  const first = await h.stripe.coupons.create({ percent_off: 10, duration: "forever" });
  const second = await h.stripe.coupons.create({ percent_off: 20, duration: "forever" });
  const third = await h.stripe.coupons.create({
    amount_off: 100,
    currency: "usd",
    duration: "forever",
  });
  const { sub } = await subscribed(h.stripe, {
    params: { discounts: [{ coupon: first.id }, { coupon: second.id }] },
  });
  const [keep, drop] = sub.discounts;
  assert.ok(typeof keep === "string" && typeof drop === "string");
  const updated = await h.stripe.subscriptions.update(sub.id, {
    discounts: [{ discount: keep }, { coupon: third.id }],
  });
  assert.equal(updated.discounts.length, 2);
  assert.equal(updated.discounts[0], keep);
  assert.ok(!updated.discounts.includes(drop));
  const ended = (await h.stripe.events.list({ type: "customer.discount.deleted" })).data;
  assert.deepEqual(
    ended.map((e) => (e.data.object as Stripe.Discount).id),
    [drop],
  );

  const removed = await h.stripe.subscriptions.deleteDiscount(sub.id);
  assert.equal(removed.object, "discount");
  assert.equal(removed.deleted, true);
  assert.deepEqual((await h.stripe.subscriptions.retrieve(sub.id)).discounts, []);
  const none = await refusal(h.stripe.subscriptions.deleteDiscount(sub.id));
  assert.equal(none.statusCode, 404);
  const cleared = await h.stripe.subscriptions.update(sub.id, { discounts: "" });
  assert.deepEqual(cleared.discounts, []);
});

test("discounts on several lines: percent per line, amount-off spread and limited to its products", async () => {
  const { customer } = await customerWithCard(h.stripe);
  const pro = await monthlyPrice(h.stripe, 1000);
  const addon = await monthlyPrice(h.stripe, 333);
  const proProduct = typeof pro.product === "string" ? pro.product : pro.product.id;
  const onlyPro = await h.stripe.coupons.create({
    amount_off: 400,
    currency: "usd",
    duration: "forever",
    applies_to: { products: [proProduct] },
  });
  const tenth = await h.stripe.coupons.create({ percent_off: 10, duration: "forever" });
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: pro.id }, { price: addon.id }],
    discounts: [{ coupon: onlyPro.id }, { coupon: tenth.id }],
    expand: ["latest_invoice"],
  });
  const inv = firstInvoice(sub);
  const [proLine, addonLine] = inv.lines.data;
  const [amountOff, percent] = sub.discounts as string[];
  assert.deepEqual(proLine?.discount_amounts, [
    { amount: 400, discount: amountOff },
    { amount: 60, discount: percent },
  ]);
  assert.deepEqual(addonLine?.discount_amounts, [
    { amount: 0, discount: amountOff },
    { amount: 33, discount: percent },
  ]);
  assert.deepEqual(inv.total_discount_amounts, [
    { amount: 400, discount: amountOff },
    { amount: 93, discount: percent },
  ]);
  assert.equal(inv.subtotal, 1333);
  assert.equal(inv.total, 840);
});

test("unknown discount parameters are refused", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 10 });
  const err = await refusal(
    subscribed(h.stripe, {
      params: {
        discounts: [{ coupon: coupon.id, percent: 5 } as Stripe.SubscriptionCreateParams.Discount],
      },
    }),
  );
  assert.equal(err.code, "parameter_unknown");
  assert.equal(err.param, "discounts[0][percent]");
});

test("a month free: a 100 % once coupon added mid-cycle makes the next renewal free, then full price", async () => {
  const free = await h.stripe.coupons.create({ percent_off: 100, duration: "once" });
  const { clock, sub, customer } = await clockSubscription(2500, []);
  await advanceClock(h.stripe, clock.id, at("2027-01-10T00:00:00Z"));
  await h.stripe.subscriptions.update(sub.id, { discounts: [{ coupon: free.id }] });

  await advanceClock(h.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  const freeMonth = await latestInvoice(h.stripe, sub.id);
  assert.equal(freeMonth.billing_reason, "subscription_cycle");
  assert.equal(freeMonth.subtotal, 2500);
  assert.equal(freeMonth.total, 0);
  assert.equal(freeMonth.amount_due, 0);
  assert.equal(freeMonth.status, "paid");
  const intents = await h.stripe.paymentIntents.list({ customer: customer.id });
  assert.equal(intents.data.length, 1, "only the first invoice was charged");

  await advanceClock(h.stripe, clock.id, at("2027-03-01T02:00:00Z"));
  const after = await latestInvoice(h.stripe, sub.id);
  assert.equal(after.total, 2500);
  assert.equal(after.status, "paid");
});

test("an upgrade of a discounted subscription prorates net of the discount, as the preview shows", async () => {
  const half = await h.stripe.coupons.create({ percent_off: 50, duration: "forever" });
  const { clock, sub } = await clockSubscription(2000, [{ coupon: half.id }]);
  const [discount] = sub.discounts;
  const pro = await monthlyPrice(h.stripe, 4000);
  await advanceClock(h.stripe, clock.id, at("2027-01-16T00:00:00Z"));
  const item = sub.items.data[0];
  assert.ok(item);
  const change = {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "always_invoice" as const,
  };
  const preview = await h.stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: change,
  });
  await h.stripe.subscriptions.update(sub.id, change);

  const inv = await latestInvoice(h.stripe, sub.id);
  assert.equal(inv.billing_reason, "subscription_update");
  const [credit, charge] = inv.lines.data;
  assert.ok(credit && charge);
  const fraction = 16 / 31;
  // Gross prorations would be -2000 and +4000 times the fraction; the discount halves both.
  assert.ok(Math.abs(credit.amount + 1000 * fraction) <= 1, `credit ${credit.amount}`);
  assert.ok(Math.abs(charge.amount - 2000 * fraction) <= 1, `charge ${charge.amount}`);
  for (const line of [credit, charge]) {
    assert.equal(line.discountable, false);
    assert.deepEqual(line.discount_amounts, [{ amount: 0, discount }]);
  }
  assert.equal(inv.total, credit.amount + charge.amount);
  assert.equal(preview.total, inv.total, "the preview shows what the update invoices");
  const items = await h.stripe.invoiceItems.list({ invoice: inv.id });
  assert.ok(
    items.data.every((ii) => ii.proration && (ii.discounts ?? []).includes(discount as string)),
  );
});
