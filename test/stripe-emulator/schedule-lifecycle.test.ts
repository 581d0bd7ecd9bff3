import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, latestInvoice } from "./clock.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { DAY } from "./helpers.ts";
import { balanceOf, has, proSubscriber, refusal, scheduleDowngrade } from "./schedule-helpers.ts";

// Subscription schedules from start to end: made from phases, started on the clock, ended by
// their end_behavior, canceled, aborted, refused. Time moves with test clocks, so these run on
// Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

test("end_behavior cancel sets cancel_at on the subscription and ends it after the last phase", async () => {
  const { sub, clock, customer, periodEnd } = await proSubscriber(t.stripe);
  const made = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const sched = await t.stripe.subscriptionSchedules.update(made.id, { end_behavior: "cancel" });
  assert.equal(sched.end_behavior, "cancel");
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).cancel_at, periodEnd);
  await advanceClock(t.stripe, clock.id, periodEnd + 60);
  const ended = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(ended.status, "canceled");
  const done = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.equal(done.status, "completed");
  assert.equal(typeof done.completed_at, "number");
  const events = await t.eventsAbout(customer.id, {
    until: has("subscription_schedule.completed"),
  });
  assert.ok(has("subscription_schedule.completed")(events));
  assert.ok(has("customer.subscription.deleted")(events));
});

test("a schedule of a customer's phases starting now creates the subscription it manages", async () => {
  const { customer, clock, starter, price, frozenTime } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({
    customer: customer.id,
    start_date: "now",
    end_behavior: "release",
    phases: [
      { items: [{ price: starter.id, quantity: 2 }], duration: { interval: "month" } },
      { items: [{ price: price.id }], duration: { interval: "month" } },
    ],
  });
  assert.equal(sched.status, "active");
  assert.equal(sched.phases[0]?.start_date, frozenTime);
  assert.equal(sched.phases[1]?.start_date, sched.phases[0]?.end_date);
  assert.equal(typeof sched.subscription, "string");
  const sub = await t.stripe.subscriptions.retrieve(String(sched.subscription));
  assert.equal(sub.schedule, sched.id);
  assert.equal(sub.items.data[0]?.price.id, starter.id);
  assert.equal(sub.items.data[0]?.quantity, 2);
  const created = await t.events((e) => e.type === "subscription_schedule.created", {
    until: (es) => es.some((e) => (e.data.object as { id?: string }).id === sched.id),
  });
  const announced = created.find((e) => (e.data.object as { id?: string }).id === sched.id);
  assert.equal(
    (announced?.data.object as Stripe.SubscriptionSchedule | undefined)?.status,
    "active",
  );
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_paid, 2000);
  await advanceClock(t.stripe, clock.id, (sched.phases[0]?.end_date ?? 0) + 2 * 3600);
  const second = await t.stripe.subscriptions.retrieve(sub.id);
  assert.deepEqual(
    second.items.data.map((i) => [i.price.id, i.quantity]),
    [[price.id, 1]],
  );
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_paid, 2000);
});

test("a first phase marked trial makes a trialing subscription billed from the next phase", async () => {
  const { customer, clock, starter, price } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({
    customer: customer.id,
    start_date: "now",
    phases: [
      {
        items: [{ price: price.id }],
        trial: true,
        duration: { interval: "day", interval_count: 14 },
      },
      { items: [{ price: starter.id }], duration: { interval: "month" } },
    ],
  });
  const trialEnd = sched.phases[0]?.end_date ?? 0;
  assert.equal(sched.phases[0]?.trial_end, trialEnd);
  const sub = await t.stripe.subscriptions.retrieve(String(sched.subscription));
  assert.equal(sub.status, "trialing");
  assert.equal(sub.trial_end, trialEnd);
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_due, 0);
  await advanceClock(t.stripe, clock.id, trialEnd + 2 * 3600);
  const paying = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(paying.status, "active");
  assert.equal(paying.items.data[0]?.price.id, starter.id);
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_paid, 1000);
});

test("a schedule starting later is not_started, listed as scheduled, and starts on the clock", async () => {
  const { customer, clock, starter, frozenTime } = await proSubscriber(t.stripe);
  const start = frozenTime + 2 * DAY;
  const sched = await t.stripe.subscriptionSchedules.create({
    customer: customer.id,
    start_date: start,
    phases: [{ items: [{ price: starter.id }], duration: { interval: "month" } }],
  });
  assert.equal(sched.status, "not_started");
  assert.equal(sched.subscription, null);
  assert.equal(sched.current_phase, null);
  const scheduled = await t.stripe.subscriptionSchedules.list({
    customer: customer.id,
    scheduled: true,
  });
  assert.deepEqual(
    scheduled.data.map((s) => s.id),
    [sched.id],
  );
  await advanceClock(t.stripe, clock.id, start + 2 * 3600);
  const started = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.equal(started.status, "active");
  const sub = await t.stripe.subscriptions.retrieve(String(started.subscription));
  assert.equal(sub.status, "active");
  assert.equal(sub.start_date, start);
  const notScheduled = await t.stripe.subscriptionSchedules.list({
    customer: customer.id,
    scheduled: true,
  });
  assert.equal(notScheduled.data.length, 0);
});

test("canceling a schedule cancels its subscription", async () => {
  const { sub, customer } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const canceled = await t.stripe.subscriptionSchedules.cancel(sched.id);
  assert.equal(canceled.status, "canceled");
  assert.equal(typeof canceled.canceled_at, "number");
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "canceled");
  const events = await t.eventsAbout(customer.id, {
    until: has("subscription_schedule.canceled"),
  });
  assert.ok(has("subscription_schedule.canceled")(events));
});

test("canceling a schedule mid-period credits the unused time on a final invoice, unless told not to", async () => {
  const { sub, clock, customer, frozenTime, periodEnd } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const at = frozenTime + 10 * DAY;
  await advanceClock(t.stripe, clock.id, at);
  await t.stripe.subscriptionSchedules.cancel(sched.id);
  const final = await latestInvoice(t.stripe, sub.id);
  const unused = Math.round((2000 * (periodEnd - at)) / (periodEnd - frozenTime));
  assert.equal(final.total, -unused);
  assert.equal(await balanceOf(t.stripe, customer.id), -unused);

  const other = await proSubscriber(t.stripe);
  const quiet = await t.stripe.subscriptionSchedules.create({ from_subscription: other.sub.id });
  await t.stripe.subscriptionSchedules.cancel(quiet.id, { prorate: false });
  assert.equal((await latestInvoice(t.stripe, other.sub.id)).billing_reason, "subscription_create");
  assert.equal(await balanceOf(t.stripe, other.customer.id), 0);
});

test("canceling the subscription under a schedule ends the schedule", async () => {
  const { sub } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  await t.stripe.subscriptions.cancel(sub.id);
  const ended = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.equal(ended.status, "canceled");
  assert.equal(ended.current_phase, null);
});

test("refusals: phases with from_subscription, unknown parameters, an unknown schedule", async () => {
  const { sub, starter } = await proSubscriber(t.stripe);
  const both = await refusal(
    t.stripe.subscriptionSchedules.create({
      from_subscription: sub.id,
      phases: [{ items: [{ price: starter.id }] }],
    }),
  );
  assert.equal(both.statusCode, 400);
  const unknown = await refusal(
    t.stripe.subscriptionSchedules.create({
      from_subscription: sub.id,
      bogus_param: "x",
    } as Stripe.SubscriptionScheduleCreateParams),
  );
  assert.equal(unknown.code, "parameter_unknown");
  assert.equal(unknown.param, "bogus_param");
  const missing = await refusal(t.stripe.subscriptionSchedules.retrieve("sub_sched_missing"));
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.code, "resource_missing");
});

test(
  "a subscription canceled for failed renewals aborts its schedule",
  emulatorOnly("the retries and the final action are the emulator's dunning settings"),
  async () => {
    const { sub, clock, customer, starter, periodEnd } = await proSubscriber(t.stripe);
    const sched = await scheduleDowngrade(t.stripe, sub, starter.id);
    const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer.id,
    });
    await t.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: failing.id },
    });
    await advanceClock(t.stripe, clock.id, periodEnd + 10 * DAY);
    assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "canceled");
    const aborted = await t.stripe.subscriptionSchedules.retrieve(sched.id);
    assert.equal(aborted.status, "canceled");
    const events = await t.eventsAbout(customer.id, {
      until: has("subscription_schedule.aborted"),
    });
    assert.ok(has("subscription_schedule.aborted")(events));
    assert.equal(has("subscription_schedule.canceled")(events), false);
  },
);
