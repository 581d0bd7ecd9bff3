import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, beforeEach, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { plans } from "../../src/billing/billing-tables.ts";
import { createPlan, type PlanBody, planBody } from "../../src/billing/plans-service.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import {
  type BillingTestApp,
  type Customer,
  DAY,
  latestPaymentIntent,
  startBillingApp,
} from "../helpers/billing.ts";
import { shuffle } from "../helpers/lives.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

/** A monthly plan billed per seat, `min`..`max` seats. */
async function seatPlan(amount: number, min: number, max: number | null): Promise<PlanBody> {
  const product = await t.stripe.products.create({
    name: `Team ${randomBytes(3).toString("hex")}`,
  });
  const price = await t.stripe.prices.create({
    product: product.id,
    unit_amount: amount,
    currency: "usd",
    recurring: { interval: "month" },
  });
  const plan = await createPlan(t.services.database.db, t.stripe, {
    name: product.name,
    priceId: price.id,
    features: [],
    settings: { perSeat: true, minQuantity: min, maxQuantity: max },
  });
  return planBody(plan);
}

const status = (c: Customer) => t.http("GET", "/api/subscriptions/status/", { token: c.token });
const change = (c: Customer, body: unknown) =>
  t.http("POST", "/api/subscriptions/change/", { token: c.token, body });
const preview = (c: Customer, query: string) =>
  t.http("GET", `/api/subscriptions/change/preview/?${query}`, { token: c.token });
const templates = async (c: Customer, prefix = "billing.") =>
  (await t.emailsOf(c.userId)).map((m) => m.template).filter((n) => n.startsWith(prefix));
const paid = async (c: Customer) =>
  (await t.paymentsOf(c.userId)).filter((p) => p.status === "succeeded").map((p) => p.amount);

async function subscribed(planId: string, body: Record<string, unknown> = {}): Promise<Customer> {
  const buyer = await t.signUp();
  const res = await t.http("POST", "/api/subscriptions/create/", {
    token: buyer.token,
    body: { plan_id: planId, payment_method_id: "pm_card_visa", ...body },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await t.settle();
  return buyer;
}

describe("changing plans", () => {
  beforeEach(() => t.resetStripe());

  test("an upgrade is previewed, applied at once and its proration charged once", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(starter.id);
    await t.advance(10 * DAY);

    const seen = await preview(buyer, `plan_id=${pro.id}`);
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    assert.equal(seen.body.effective, "now");
    assert.ok(Number(seen.body.amount_due_now) > 0 && Number(seen.body.amount_due_now) < 20);
    assert.ok(seen.body.lines.some((l: { proration: boolean }) => l.proration));
    assert.equal(seen.body.next_invoice.amount, "30.00");

    const res = await change(buyer, { plan_id: pro.id });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "changed");
    assert.equal(res.body.subscription.plan.id, pro.id);
    assert.equal(res.body.subscription.pending_change, null);
    // A double click: the same change again is refused, nothing is charged twice.
    const again = await change(buyer, { plan_id: pro.id });
    assert.equal(again.status, 400);
    await t.settle();
    const amounts = await paid(buyer);
    assert.equal(amounts.length, 2);
    assert.equal(amounts[1], Math.round(Number(seen.body.amount_due_now) * 100));
    const mails = await templates(buyer);
    assert.equal(mails.filter((m) => m === "billing.plan_changed").length, 1);
    assert.equal(mails.filter((m) => m === "billing.subscription_confirmation").length, 2);

    await t.advance(21 * DAY + 2 * 3600);
    assert.deepEqual((await paid(buyer)).slice(2), [3000]);
  });

  test("a preview in JPY and in KWD uses the currency's decimals", async () => {
    for (const [currency, pattern] of [
      ["jpy", /^\d+$/],
      ["kwd", /^\d+\.\d{3}$/],
    ] as const) {
      const small = await t.plan({ amount: 1000, currency });
      const big = await t.plan({ amount: 3000, currency });
      const buyer = await subscribed(small.id);
      const seen = await preview(buyer, `plan_id=${big.id}`);
      assert.equal(seen.status, 200, JSON.stringify(seen.body));
      assert.equal(seen.body.currency, currency);
      assert.match(seen.body.amount_due_now, pattern);
      assert.equal(seen.body.next_invoice.amount, currency === "jpy" ? "3000" : "3.000");
      for (const line of seen.body.lines) assert.match(line.amount, /^-?\d+(\.\d{3})?$/);
    }
  });

  test("a declined upgrade leaves the old plan and charges nothing", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(starter.id);
    const [customer] = (await t.stripe.customers.list({ email: buyer.email })).data;
    const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer?.id ?? "",
    });
    const sub = (await status(buyer)).body.stripe_subscription_id;
    await t.stripe.subscriptions.update(sub, { default_payment_method: failing.id });
    const res = await change(buyer, { plan_id: pro.id });
    assert.equal(res.status, 402, JSON.stringify(res.body));
    assert.match(res.body.error, /declined/);
    await t.settle();
    assert.equal((await status(buyer)).body.plan.id, starter.id);
    assert.deepEqual(await paid(buyer), [1000]);
    assert.deepEqual(await templates(buyer, "billing.plan"), []);
    // A day later nothing has charged the voided invoice, and the plan is still the old one.
    await t.advance(DAY);
    assert.deepEqual(await paid(buyer), [1000]);
    const stripeSub = await t.stripe.subscriptions.retrieve(sub);
    assert.equal(stripeSub.items.data[0]?.price.id, starter.stripe_price_id);
  });

  test("an upgrade needing 3-D Secure keeps the old plan until the customer confirms", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(starter.id);
    const [customer] = (await t.stripe.customers.list({ email: buyer.email })).data;
    const card = await t.stripe.paymentMethods.attach("pm_card_authenticationRequired", {
      customer: customer?.id ?? "",
    });
    const sub = (await status(buyer)).body.stripe_subscription_id;
    await t.stripe.subscriptions.update(sub, { default_payment_method: card.id });
    const res = await change(buyer, { plan_id: pro.id });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "requires_action");
    assert.ok(res.body.client_secret);
    await t.settle();
    assert.equal((await status(buyer)).body.plan.id, starter.id);
    assert.deepEqual(await paid(buyer), [1000]);
    assert.deepEqual(await templates(buyer, "billing.plan"), []);
    await t.emulator.confirmPaymentIntent(await latestPaymentIntent(t.stripe, sub));
    await t.settle();
    assert.equal((await status(buyer)).body.plan.id, pro.id);
    assert.equal((await paid(buyer)).length, 2);
    // Confirmed: the change is announced once, by the proration invoice's payment.
    assert.deepEqual(await templates(buyer, "billing.plan"), ["billing.plan_changed"]);
    const [invoice] = (await t.stripe.invoices.list({ subscription: sub, limit: 1 })).data;
    const events = await t.stripe.events.list({ type: "invoice.paid", limit: 5 });
    const paidEvent = events.data.find(
      (e) => (e.data.object as { id?: string }).id === invoice?.id,
    );
    assert.ok(paidEvent);
    await t.emulator.redeliver(paidEvent.id);
    await t.settle();
    assert.deepEqual(await templates(buyer, "billing.plan"), ["billing.plan_changed"]);
  });

  test("a downgrade is scheduled, shown, and applied once at renewal under shuffled triple delivery", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(pro.id);
    const before = (await status(buyer)).body;

    const seen = await preview(buyer, `plan_id=${starter.id}`);
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    assert.equal(seen.body.effective, "period_end");
    assert.equal(seen.body.amount_due_now, "0.00");
    assert.equal(seen.body.effective_at, before.current_period_end);
    assert.equal(seen.body.next_invoice.amount, "10.00");

    const res = await change(buyer, { plan_id: starter.id });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "scheduled");
    assert.equal(res.body.subscription.plan.id, pro.id);
    assert.equal(res.body.subscription.pending_change.plan.id, starter.id);
    assert.equal(res.body.subscription.pending_change.effective_at, before.current_period_end);
    await t.settle();
    const shown = (await status(buyer)).body;
    assert.equal(shown.pending_change.plan.id, starter.id);

    t.emulator.holdDeliveries(true);
    await t.emulator.advanceTime(31 * DAY + 2 * 3600);
    const held = t.emulator.heldEvents();
    assert.ok(held.length >= 3, `the renewal's events were held (${held.length})`);
    await t.emulator.deliver(shuffle([...held, ...held, ...held]));
    t.emulator.holdDeliveries(false);
    await t.settle();

    const after = (await status(buyer)).body;
    assert.equal(after.plan.id, starter.id);
    assert.equal(after.pending_change, null);
    assert.deepEqual(await paid(buyer), [3000, 1000]);
    const mails = await templates(buyer, "billing.plan");
    assert.deepEqual(mails, ["billing.plan_change_scheduled"]);
    // The next renewal stays on the new plan.
    await t.advance(31 * DAY);
    assert.deepEqual(await paid(buyer), [3000, 1000, 1000]);
  });

  test("a scheduled change is replaced, then canceled; canceling the subscription drops one", async () => {
    const basic = await t.plan({ amount: 500 });
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(pro.id);
    assert.equal((await change(buyer, { plan_id: starter.id })).status, 200);
    const replaced = await change(buyer, { plan_id: basic.id });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body.subscription.pending_change.plan.id, basic.id);
    const dropped = await t.http("DELETE", "/api/subscriptions/change/", { token: buyer.token });
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    assert.equal(dropped.body.subscription.pending_change, null);
    const none = await t.http("DELETE", "/api/subscriptions/change/", { token: buyer.token });
    assert.equal(none.status, 404);
    await t.settle();
    assert.equal((await status(buyer)).body.pending_change, null);
    await t.advance(31 * DAY + 2 * 3600);
    assert.equal((await status(buyer)).body.plan.id, pro.id);
    assert.deepEqual(await paid(buyer), [3000, 3000]);

    // Scheduled again, then the subscription is canceled at period end: the change goes with it.
    assert.equal((await change(buyer, { plan_id: starter.id })).status, 200);
    const cancel = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    await t.settle();
    const shown = (await status(buyer)).body;
    assert.equal(shown.cancel_at_period_end, true);
    assert.equal(shown.pending_change, null);
    await t.advance(31 * DAY + 2 * 3600);
    assert.equal((await status(buyer)).body.status, "canceled");
    assert.deepEqual(await paid(buyer), [3000, 3000]);
  });

  test("a downgrade now credits the unused time to the customer balance", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(pro.id);
    const res = await change(buyer, { plan_id: starter.id, when: "now" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "changed");
    assert.equal(res.body.subscription.plan.id, starter.id);
    const [customer] = (await t.stripe.customers.list({ email: buyer.email })).data;
    assert.ok((customer?.balance ?? 0) < 0, `a credit on the balance (${customer?.balance})`);
    await t.settle();
    assert.deepEqual(await paid(buyer), [3000]);
  });
});

describe("seats", () => {
  beforeEach(() => t.resetStripe());

  test("seats on create, up at once (charged), down at the period end", async () => {
    const team = await seatPlan(500, 2, 10);
    const buyer = await subscribed(team.id, { quantity: 3 });
    const shown = (await status(buyer)).body;
    assert.equal(shown.quantity, 3);
    assert.equal(shown.unit_amount, "5.00");
    const pays = await t.http("GET", "/api/subscriptions/payments/", { token: buyer.token });
    assert.equal(pays.body.results[0].quantity, 3);
    assert.equal(pays.body.results[0].unit_amount, "5.00");
    assert.equal(pays.body.results[0].amount, "15.00");

    const up = await change(buyer, { plan_id: team.id, quantity: 5 });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(up.body.status, "changed");
    assert.equal(up.body.subscription.quantity, 5);
    await t.settle();
    assert.equal((await paid(buyer)).length, 2);

    const down = await change(buyer, { plan_id: team.id, quantity: 2 });
    assert.equal(down.status, 200, JSON.stringify(down.body));
    assert.equal(down.body.status, "scheduled");
    assert.equal(down.body.subscription.quantity, 5);
    assert.equal(down.body.subscription.pending_change.quantity, 2);
    await t.advance(31 * DAY + 2 * 3600);
    const after = (await status(buyer)).body;
    assert.equal(after.quantity, 2);
    assert.equal(after.pending_change, null);
    assert.equal((await paid(buyer)).at(-1), 1000);
  });
});

describe("promotion codes", () => {
  beforeEach(() => t.resetStripe());

  async function code(percent: number): Promise<string> {
    const coupon = await t.stripe.coupons.create({ percent_off: percent, duration: "forever" });
    const promo = await t.stripe.promotionCodes.create({
      promotion: { type: "coupon", coupon: coupon.id },
      code: `SAVE${randomBytes(3).toString("hex").toUpperCase()}`,
    });
    return promo.code;
  }

  test("a code on create lowers the first payment and shows in status and payments", async () => {
    const pro = await t.plan({ amount: 3000 });
    const promo = await code(20);
    const buyer = await subscribed(pro.id, { promotion_code: promo });
    const shown = (await status(buyer)).body;
    assert.equal(shown.discount.code, promo);
    assert.equal(shown.discount.percent_off, 20);
    assert.deepEqual(await paid(buyer), [2400]);
    const pays = await t.http("GET", "/api/subscriptions/payments/", { token: buyer.token });
    assert.equal(pays.body.results[0].discount_amount, "6.00");
    assert.equal(pays.body.results[0].promotion_code, promo);
    const receipts = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.subscription_confirmation",
    );
    assert.equal(receipts.length, 1);
    const [receipt] = await t.services.database.db
      .select({ text: emails.textBody })
      .from(emails)
      .where(eq(emails.userId, buyer.userId))
      .then((rows) => rows.filter((r) => r.text.includes("payment of")));
    assert.match(receipt?.text ?? "", new RegExp(`24\\.00 USD \\(6\\.00 USD off with ${promo}\\)`));
  });

  test("a code on a change applies to the new plan", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(starter.id);
    const promo = await code(50);
    const res = await change(buyer, { plan_id: pro.id, promotion_code: promo });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.subscription.discount.code, promo);
    await t.advance(31 * DAY + 2 * 3600);
    assert.equal((await paid(buyer)).at(-1), 1500);
  });

  test("a code on a scheduled downgrade starts with the new plan", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const buyer = await subscribed(pro.id);
    const promo = await code(10);
    const res = await change(buyer, { plan_id: starter.id, promotion_code: promo });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "scheduled");
    assert.equal(res.body.subscription.discount, null);
    await t.advance(31 * DAY + 2 * 3600);
    const shown = (await status(buyer)).body;
    assert.equal(shown.plan.id, starter.id);
    assert.equal(shown.discount.code, promo);
    assert.deepEqual(await paid(buyer), [3000, 900]);
  });

  test("codes Stripe would refuse are a 400 on promotion_code and change nothing", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const elsewhere = await t.stripe.products.create({ name: "Other product" });
    const narrow = await t.stripe.coupons.create({
      percent_off: 50,
      applies_to: { products: [elsewhere.id] },
    });
    const wrongProduct = await t.stripe.promotionCodes.create({
      promotion: { type: "coupon", coupon: narrow.id },
      code: `ELSE${randomBytes(3).toString("hex").toUpperCase()}`,
    });
    const once = await t.stripe.coupons.create({ percent_off: 50 });
    const firstTime = await t.stripe.promotionCodes.create({
      promotion: { type: "coupon", coupon: once.id },
      code: `FIRST${randomBytes(3).toString("hex").toUpperCase()}`,
      restrictions: { first_time_transaction: true },
    });
    const buyer = await subscribed(starter.id);
    for (const promo of [wrongProduct.code, firstTime.code, "NO-SUCH-CODE"]) {
      const res = await change(buyer, { plan_id: pro.id, promotion_code: promo });
      assert.equal(res.status, 400, `${promo}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.promotion_code.length, 1, JSON.stringify(res.body));
    }
    await t.settle();
    const shown = (await status(buyer)).body;
    assert.equal(shown.plan.id, starter.id);
    assert.equal(shown.discount, null);
    assert.deepEqual(await paid(buyer), [1000]);
  });

  test("an unknown code is a 400 on promotion_code, on create and on change", async () => {
    const pro = await t.plan({ amount: 3000 });
    const buyer = await t.signUp();
    const res = await t.http("POST", "/api/subscriptions/create/", {
      token: buyer.token,
      body: { plan_id: pro.id, payment_method_id: "pm_card_visa", promotion_code: "NOPE" },
    });
    assert.equal(res.status, 400);
    assert.ok(res.body.promotion_code);
    const starter = await t.plan({ amount: 1000 });
    const other = await subscribed(starter.id);
    const bad = await change(other, { plan_id: pro.id, promotion_code: "NOPE" });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.promotion_code);
    assert.equal((await status(other)).body.plan.id, starter.id);
  });
});

describe("refusals", () => {
  beforeEach(() => t.resetStripe());

  test("every refused change is a 400 (or 404) saying why, and changes nothing", async () => {
    const starter = await t.plan({ amount: 1000 });
    const team = await seatPlan(500, 2, 10);
    const euro = await t.plan({ amount: 1000, currency: "eur" });
    const gone = await t.plan({ amount: 2000 });
    // Withdrawn from sale, as plans:sync does when its price is archived.
    await t.services.database.db
      .update(plans)
      .set({ isActive: false })
      .where(eq(plans.id, gone.id));
    const nobody = await t.signUp();
    assert.equal((await change(nobody, { plan_id: starter.id })).status, 404);
    const buyer = await subscribed(starter.id);
    const cases: [unknown, number, string][] = [
      [{ plan_id: starter.id }, 400, "error"],
      [{ plan_id: gone.id }, 400, "plan_id"],
      [{ plan_id: "5d0b8a52-3c1e-4f7a-9b2d-6e8f1a4c7b39" }, 404, "error"],
      [{ plan_id: starter.id, quantity: 3 }, 400, "quantity"],
      [{ plan_id: team.id, quantity: 1 }, 400, "quantity"],
      [{ plan_id: team.id, quantity: 11 }, 400, "quantity"],
      [{ plan_id: euro.id }, 400, "plan_id"],
      [{ plan_id: starter.id, when: "later" }, 400, "when"],
      [{ plan_id: "not-a-uuid" }, 400, "plan_id"],
    ];
    for (const [body, code, field] of cases) {
      const res = await change(buyer, body);
      assert.equal(res.status, code, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.ok(
        res.body[field],
        `${JSON.stringify(body)} names ${field}: ${JSON.stringify(res.body)}`,
      );
    }
    const seats = await t.http("POST", "/api/subscriptions/create/", {
      token: (await t.signUp()).token,
      body: { plan_id: team.id, payment_method_id: "pm_card_visa", quantity: 20 },
    });
    assert.equal(seats.status, 400);
    assert.ok(seats.body.quantity);

    // A cancellation scheduled: reactivate first.
    await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    const canceling = await change(buyer, { plan_id: team.id });
    assert.equal(canceling.status, 400);
    assert.match(canceling.body.error, /reactivate/);

    // incomplete: finish the first payment first.
    const waiting = await t.signUp();
    const pending = await t.subscribe(waiting, starter.id, "pm_card_authenticationRequired");
    assert.equal(pending.body.subscription.status, "incomplete");
    const incomplete = await change(waiting, { plan_id: team.id, quantity: 2 });
    assert.equal(incomplete.status, 400);
    assert.match(incomplete.body.error, /first payment is not complete/);

    // past_due: pay first.
    const late = await subscribed(starter.id);
    const [customer] = (await t.stripe.customers.list({ email: late.email })).data;
    const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer?.id ?? "",
    });
    const sub = (await status(late)).body.stripe_subscription_id;
    await t.stripe.subscriptions.update(sub, { default_payment_method: failing.id });
    await t.advance(31 * DAY + 2 * 3600);
    assert.equal((await status(late)).body.status, "past_due");
    const pastDue = await change(late, { plan_id: team.id });
    assert.equal(pastDue.status, 400);
    assert.match(pastDue.body.error, /payment failed/);
    assert.equal((await preview(late, `plan_id=${team.id}`)).status, 400);
    assert.equal(
      (await t.http("DELETE", "/api/subscriptions/change/", { token: late.token })).status,
      400,
    );
  });
});
