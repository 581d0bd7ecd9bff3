import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { advanceClock, at, clockCustomer, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { type ContractTarget, contractTarget } from "./contract/target.ts";

// Time moves with test clocks, so these run on Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

test("a renewal invoice looks back on the month that ended while its line bills the next one", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-06T00:00:00Z"));
  const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  const first = await latestInvoice(t.stripe, sub.id);
  assert.equal(first.period_start, at("2027-01-06T00:00:00Z"));
  assert.equal(first.period_end, at("2027-01-06T00:00:00Z"));
  assert.deepEqual(first.lines.data[0]?.period, {
    start: at("2027-01-06T00:00:00Z"),
    end: at("2027-02-06T00:00:00Z"),
  });

  await advanceClock(t.stripe, clock.id, at("2027-02-06T02:00:00Z"));
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.period_start, at("2027-01-06T00:00:00Z"));
  assert.equal(renewal.period_end, at("2027-02-06T00:00:00Z"));
  assert.deepEqual(renewal.lines.data[0]?.period, {
    start: at("2027-02-06T00:00:00Z"),
    end: at("2027-03-06T00:00:00Z"),
  });
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("a cycle anchored on the 31st clamps to shorter months and comes back to the 31st", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-31T10:00:00Z"));
  const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  assert.equal(sub.items.data[0]?.current_period_end, at("2027-02-28T10:00:00Z"));
  await advanceClock(t.stripe, clock.id, at("2027-02-28T12:00:00Z"));
  const feb = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(feb.items.data[0]?.current_period_start, at("2027-02-28T10:00:00Z"));
  assert.equal(feb.items.data[0]?.current_period_end, at("2027-03-31T10:00:00Z"));
  const febInvoice = await latestInvoice(t.stripe, sub.id);
  assert.equal(febInvoice.period_start, at("2027-01-31T10:00:00Z"));
  assert.equal(febInvoice.period_end, at("2027-02-28T10:00:00Z"));

  await advanceClock(t.stripe, clock.id, at("2027-03-31T12:00:00Z"));
  const mar = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(mar.items.data[0]?.current_period_start, at("2027-03-31T10:00:00Z"));
  assert.equal(mar.items.data[0]?.current_period_end, at("2027-04-30T10:00:00Z"));
  const marInvoice = await latestInvoice(t.stripe, sub.id);
  assert.equal(marInvoice.period_start, at("2027-02-28T10:00:00Z"));
  assert.equal(marInvoice.period_end, at("2027-03-31T10:00:00Z"));
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("pending prorations do not move a renewal invoice's period before the subscription began", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-06T00:00:00Z"));
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: starter.id }],
  });
  await advanceClock(t.stripe, clock.id, at("2027-01-20T00:00:00Z"));
  const item = sub.items.data[0];
  assert.ok(item);
  await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "create_prorations",
  });
  await advanceClock(t.stripe, clock.id, at("2027-02-06T02:00:00Z"));

  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.period_start, at("2027-01-06T00:00:00Z"));
  assert.equal(renewal.period_end, at("2027-02-06T00:00:00Z"));
  const lines = (await t.stripe.invoices.listLineItems(renewal.id)).data;
  const prorations = lines.filter((l) => l.parent?.subscription_item_details?.proration);
  assert.equal(prorations.length, 2);
  for (const line of prorations) {
    assert.deepEqual(line.period, {
      start: at("2027-01-20T00:00:00Z"),
      end: at("2027-02-06T00:00:00Z"),
    });
  }
  const cycle = lines.find((l) => l.parent?.subscription_item_details?.proration === false);
  assert.deepEqual(cycle?.period, {
    start: at("2027-02-06T00:00:00Z"),
    end: at("2027-03-06T00:00:00Z"),
  });
  await t.stripe.testHelpers.testClocks.del(clock.id);
});
