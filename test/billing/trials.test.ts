import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, beforeEach, describe, test } from "node:test";
import { createPlan, type PlanBody, planBody } from "../../src/billing/plans-service.ts";
import { type BillingTestApp, type Customer, DAY, startBillingApp } from "../helpers/billing.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

async function trialPlan(days: number, app = t): Promise<PlanBody> {
  const product = await app.stripe.products.create({
    name: `Trial ${randomBytes(3).toString("hex")}`,
  });
  const price = await app.stripe.prices.create({
    product: product.id,
    unit_amount: 2900,
    currency: "usd",
    recurring: { interval: "month" },
  });
  const plan = await createPlan(app.services.database.db, app.stripe, {
    name: product.name,
    priceId: price.id,
    features: [],
    settings: { trialDays: days },
  });
  return planBody(plan);
}

const status = async (c: Customer, app = t) =>
  (await app.http("GET", "/api/subscriptions/status/", { token: c.token })).body;
const create = (c: Customer, body: Record<string, unknown>, app = t) =>
  app.http("POST", "/api/subscriptions/create/", { token: c.token, body });
const templates = async (c: Customer) =>
  (await t.emailsOf(c.userId)).map((m) => m.template).filter((n) => n.startsWith("billing."));
const paid = async (c: Customer, app = t) =>
  (await app.paymentsOf(c.userId)).filter((p) => p.status === "succeeded").map((p) => p.amount);

describe("trials", () => {
  beforeEach(() => t.resetStripe());

  test("with a card: trialing without a charge, reminded, then converted and charged once", async () => {
    const plan = await trialPlan(14);
    const buyer = await t.signUp();
    const res = await create(buyer, { plan_id: plan.id, payment_method_id: "pm_card_visa" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.subscription.status, "trialing");
    assert.equal(res.body.subscription.is_active, true);
    await t.settle();
    assert.deepEqual(await paid(buyer), []);
    assert.deepEqual(await templates(buyer), ["billing.trial_started"]);

    await t.advance(12 * DAY);
    assert.ok((await templates(buyer)).includes("billing.trial_ending"));
    await t.advance(2 * DAY + 2 * 3600);
    assert.equal((await status(buyer)).status, "active");
    assert.deepEqual(await paid(buyer), [2900]);
    const mails = await templates(buyer);
    assert.deepEqual(mails.sort(), [
      "billing.subscription_confirmation",
      "billing.trial_converted",
      "billing.trial_ending",
      "billing.trial_started",
    ]);
    // The next renewal is an ordinary one: no second "converted".
    await t.advance(31 * DAY);
    assert.deepEqual(await paid(buyer), [2900, 2900]);
    assert.equal((await templates(buyer)).filter((m) => m === "billing.trial_converted").length, 1);
  });

  test("without a card: trialing, told how to add one, canceled at the end; one trial per user", async () => {
    const plan = await trialPlan(7);
    const buyer = await t.signUp();
    const res = await create(buyer, { plan_id: plan.id });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.subscription.status, "trialing");
    await t.advance(5 * DAY);
    assert.ok((await templates(buyer)).includes("billing.trial_ending_without_card"));
    assert.ok(!(await templates(buyer)).includes("billing.trial_ending"));
    await t.advance(3 * DAY);
    const ended = await status(buyer);
    assert.equal(ended.status, "canceled");
    assert.deepEqual(await paid(buyer), []);

    // Returning: no second trial, so a card is required and charged at once.
    const again = await create(buyer, { plan_id: plan.id });
    assert.equal(again.status, 400);
    assert.match(again.body.payment_method_id[0], /trial was used/);
    const paying = await create(buyer, { plan_id: plan.id, payment_method_id: "pm_card_visa" });
    assert.equal(paying.status, 201, JSON.stringify(paying.body));
    assert.equal(paying.body.subscription.status, "active");
    await t.settle();
    assert.deepEqual(await paid(buyer), [2900]);
  });

  test("no card on a plan without a trial is a 400 on payment_method_id", async () => {
    const plan = await t.plan({ amount: 1000 });
    const buyer = await t.signUp();
    const res = await create(buyer, { plan_id: plan.id });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { payment_method_id: ["This field is required."] });
  });
});

describe("TRIAL_WITHOUT_CARD_END", () => {
  for (const [setting, ended] of [
    ["create_invoice", "past_due"],
    ["pause", "paused"],
  ] as const) {
    test(`${setting}: a trial without a card ends ${ended}, nothing charged`, async () => {
      const app = await startBillingApp({ env: { TRIAL_WITHOUT_CARD_END: setting } });
      try {
        const plan = await trialPlan(3, app);
        const buyer = await app.signUp();
        const res = await create(buyer, { plan_id: plan.id }, app);
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.subscription.status, "trialing");
        await app.advance(4 * DAY);
        assert.equal((await status(buyer, app)).status, ended);
        assert.deepEqual(await paid(buyer, app), []);
      } finally {
        await app.close();
      }
    });
  }
});
