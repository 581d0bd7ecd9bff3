import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { type Harness, harness } from "./helpers.ts";
import { refusal } from "./refusal.ts";

/** Coupons and promotion codes as objects: what Stripe stores, refuses and announces. */
let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

async function eventsOf(type: string): Promise<Stripe.Event[]> {
  return (await h.stripe.events.list({ type })).data;
}

test("a coupon is created with Stripe's defaults, retrieved, renamed, listed and deleted", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 25.5, name: "Launch" });
  assert.match(coupon.id, /^[A-Za-z0-9]{8}$/);
  assert.equal(coupon.object, "coupon");
  assert.equal(coupon.percent_off, 25.5);
  assert.equal(coupon.amount_off, null);
  assert.equal(coupon.currency, null);
  assert.equal(coupon.duration, "once");
  assert.equal(coupon.duration_in_months, null);
  assert.equal(coupon.times_redeemed, 0);
  assert.equal(coupon.valid, true);
  assert.equal(coupon.applies_to, undefined, "applies_to is shown only when expanded");

  const fixed = await h.stripe.coupons.create({
    id: "TENOFF",
    amount_off: 1000,
    currency: "USD",
    duration: "repeating",
    duration_in_months: 3,
    max_redemptions: 5,
    metadata: { campaign: "spring" },
  });
  assert.equal(fixed.id, "TENOFF");
  assert.equal(fixed.currency, "usd");
  assert.equal(fixed.duration_in_months, 3);
  assert.equal(fixed.max_redemptions, 5);
  assert.deepEqual(fixed.metadata, { campaign: "spring" });

  const renamed = await h.stripe.coupons.update("TENOFF", { name: "Ten off" });
  assert.equal(renamed.name, "Ten off");
  assert.equal((await h.stripe.coupons.retrieve("TENOFF")).name, "Ten off");
  const listed = await h.stripe.coupons.list();
  assert.deepEqual(
    listed.data.map((c) => c.id),
    ["TENOFF", coupon.id],
  );

  const deleted = await h.stripe.coupons.del("TENOFF");
  assert.deepEqual(deleted, { id: "TENOFF", object: "coupon", deleted: true });
  const gone = await refusal(h.stripe.coupons.retrieve("TENOFF"));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.code, "resource_missing");
  assert.equal(gone.message, "No such coupon: 'TENOFF'");

  const created = await eventsOf("coupon.created");
  assert.equal(created.length, 2);
  const [updated] = await eventsOf("coupon.updated");
  assert.deepEqual(updated?.data.previous_attributes, { name: null });
  const deletions = await eventsOf("coupon.deleted");
  assert.deepEqual(
    deletions.map((e) => (e.data.object as Stripe.Coupon).id),
    ["TENOFF"],
  );
});

test("a coupon's products are shown only when applies_to is expanded", async () => {
  const product = await h.stripe.products.create({ name: "Pro" });
  const coupon = await h.stripe.coupons.create({
    percent_off: 50,
    applies_to: { products: [product.id] },
  });
  assert.equal(coupon.applies_to, undefined);
  const expanded = await h.stripe.coupons.retrieve(coupon.id, { expand: ["applies_to"] });
  assert.deepEqual(expanded.applies_to, { products: [product.id] });
});

test("Stripe's refusals of a coupon", async () => {
  const cases: [Stripe.CouponCreateParams, string][] = [
    [{ percent_off: 10, amount_off: 100, currency: "usd" }, "amount_off"],
    [{ duration: "forever" }, "percent_off"],
    [{ percent_off: 101 }, "percent_off"],
    [{ percent_off: 0 }, "percent_off"],
    [{ amount_off: 500 }, "currency"],
    [{ percent_off: 10, duration: "repeating" }, "duration_in_months"],
    [{ percent_off: 10, duration: "once", duration_in_months: 2 }, "duration_in_months"],
    [{ percent_off: 10, max_redemptions: 0 }, "max_redemptions"],
    [{ percent_off: 10, redeem_by: 1_000_000 }, "redeem_by"],
  ];
  for (const [params, param] of cases) {
    const err = await refusal(h.stripe.coupons.create(params));
    assert.equal(err.statusCode, 400, JSON.stringify(params));
    assert.equal(err.type, "StripeInvalidRequestError");
    assert.equal(err.param, param, JSON.stringify(params));
  }
  await h.stripe.coupons.create({ id: "ONCE", percent_off: 10 });
  const dup = await refusal(h.stripe.coupons.create({ id: "ONCE", percent_off: 20 }));
  assert.equal(dup.code, "resource_already_exists");
  const frozen = await refusal(
    h.stripe.coupons.update("ONCE", { percent_off: 50 } as Stripe.CouponUpdateParams),
  );
  assert.equal(frozen.code, "parameter_unknown", "a coupon's value cannot be changed");
  assert.equal(await h.stripe.coupons.list().then((l) => l.data.length), 1);
});

test("a promotion code names its coupon, gets a code when none is given, and is listed by code", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 20 });
  const promo = await h.stripe.promotionCodes.create({
    promotion: { type: "coupon", coupon: coupon.id },
    code: "Spring20",
    max_redemptions: 3,
    restrictions: { minimum_amount: 2000, minimum_amount_currency: "usd" },
  });
  assert.match(promo.id, /^promo_/);
  assert.equal(promo.code, "Spring20");
  assert.equal(promo.active, true);
  assert.deepEqual(promo.promotion, { coupon: coupon.id, type: "coupon" });
  assert.deepEqual(promo.restrictions, {
    first_time_transaction: false,
    minimum_amount: 2000,
    minimum_amount_currency: "usd",
  });
  assert.equal(promo.times_redeemed, 0);

  const generated = await h.stripe.promotionCodes.create({
    promotion: { type: "coupon", coupon: coupon.id },
  });
  assert.match(generated.code, /^[A-Z0-9]+$/);

  const byCode = await h.stripe.promotionCodes.list({ code: "spring20" });
  assert.deepEqual(
    byCode.data.map((p) => p.id),
    [promo.id],
  );
  const byCoupon = await h.stripe.promotionCodes.list({ coupon: coupon.id });
  assert.equal(byCoupon.data.length, 2);
  const expanded = await h.stripe.promotionCodes.retrieve(promo.id, {
    expand: ["promotion.coupon"],
  });
  assert.equal((expanded.promotion.coupon as Stripe.Coupon).percent_off, 20);
  assert.equal((await eventsOf("promotion_code.created")).length, 2);
});

test("an active code is unique whatever its case; a deactivated one frees it", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 20 });
  const promotion = { type: "coupon" as const, coupon: coupon.id };
  const first = await h.stripe.promotionCodes.create({ promotion, code: "WELCOME" });
  const dup = await refusal(h.stripe.promotionCodes.create({ promotion, code: "welcome" }));
  assert.equal(dup.statusCode, 400);
  assert.equal(dup.param, "code");

  const off = await h.stripe.promotionCodes.update(first.id, { active: false });
  assert.equal(off.active, false);
  const [updated] = await eventsOf("promotion_code.updated");
  assert.deepEqual(updated?.data.previous_attributes, { active: true });
  const second = await h.stripe.promotionCodes.create({ promotion, code: "welcome" });
  assert.equal(second.active, true);
  const back = await refusal(h.stripe.promotionCodes.update(first.id, { active: true }));
  assert.equal(back.param, "code");
  const active = await h.stripe.promotionCodes.list({ active: true });
  assert.deepEqual(
    active.data.map((p) => p.id),
    [second.id],
  );
});

test("Stripe's refusals of a promotion code", async () => {
  const coupon = await h.stripe.coupons.create({ percent_off: 20, redeem_by: 4_000_000_000 });
  const missing = await refusal(
    h.stripe.promotionCodes.create({ promotion: { type: "coupon", coupon: "NOPE" } }),
  );
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.param, "promotion[coupon]");
  const noMinCurrency = await refusal(
    h.stripe.promotionCodes.create({
      promotion: { type: "coupon", coupon: coupon.id },
      restrictions: { minimum_amount: 1000 },
    }),
  );
  assert.equal(noMinCurrency.code, "parameter_missing");
  assert.equal(noMinCurrency.param, "restrictions[minimum_amount_currency]");
  const outlives = await refusal(
    h.stripe.promotionCodes.create({
      promotion: { type: "coupon", coupon: coupon.id },
      expires_at: 4_100_000_000,
    }),
  );
  assert.equal(outlives.param, "expires_at");
  const noCustomer = await refusal(
    h.stripe.promotionCodes.create({
      promotion: { type: "coupon", coupon: coupon.id },
      customer: "cus_missing",
    }),
  );
  assert.equal(noCustomer.statusCode, 404);
  assert.equal((await h.stripe.promotionCodes.list()).data.length, 0);
});
