import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { clockSubscribed } from "./contract/clock-subscribed.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { DAY } from "./helpers.ts";
import { has, proSubscriber, refusal, scheduleDowngrade } from "./schedule-helpers.ts";

// Subscription schedules as the plan-change flow uses them: a schedule made from a subscription,
// its phases changed, released, applied on the clock. Time moves with test clocks, so these run on
// Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

test("from_subscription makes a one-phase schedule of the current period, shown on the subscription", async () => {
  const { sub, price, customer, periodEnd } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  assert.equal(sched.object, "subscription_schedule");
  assert.match(sched.id, /^sub_sched_/);
  assert.equal(sched.status, "active");
  assert.equal(sched.subscription, sub.id);
  assert.equal(sched.customer, customer.id);
  assert.equal(sched.end_behavior, "release");
  assert.equal(sched.phases.length, 1);
  const [phase] = sched.phases;
  assert.equal(phase?.start_date, sub.items.data[0]?.current_period_start);
  assert.equal(phase?.end_date, periodEnd);
  assert.deepEqual(
    phase?.items.map((i) => [i.price, i.quantity]),
    [[price.id, 1]],
  );
  assert.deepEqual(sched.current_phase, { start_date: phase?.start_date, end_date: periodEnd });
  const shown = await t.stripe.subscriptions.retrieve(sub.id, { expand: ["schedule"] });
  assert.equal((shown.schedule as Stripe.SubscriptionSchedule).id, sched.id);
  const expanded = await t.stripe.subscriptionSchedules.retrieve(sched.id, {
    expand: ["subscription", "customer"],
  });
  assert.equal((expanded.subscription as Stripe.Subscription).id, sub.id);
  assert.equal((expanded.customer as Stripe.Customer).id, customer.id);
  const events = await t.eventsAbout(customer.id, { until: has("subscription_schedule.created") });
  assert.ok(has("subscription_schedule.created")(events));
});

test("a downgrade scheduled for the period end is billed at the new price at the renewal", async () => {
  const { sub, clock, customer, starter, price, periodEnd } = await proSubscriber(t.stripe);
  const sched = await scheduleDowngrade(t.stripe, sub, starter.id);
  assert.equal(sched.phases.length, 2);
  assert.equal(sched.phases[1]?.start_date, periodEnd);
  assert.equal(sched.phases[1]?.items[0]?.price, starter.id);
  const before = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(before.items.data[0]?.price.id, price.id, "nothing changes before the period end");
  const upcoming = await t.stripe.invoices.createPreview({ subscription: sub.id });
  assert.equal(upcoming.amount_due, 1000, "the next invoice is at the scheduled price");

  await advanceClock(t.stripe, clock.id, periodEnd + 2 * 3600);
  const moved = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(moved.status, "active");
  assert.deepEqual(
    moved.items.data.map((i) => i.price.id),
    [starter.id],
  );
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.status, "paid");
  assert.equal(renewal.amount_paid, 1000, "charged at the new price, without prorations");
  const now = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.equal(now.status, "active");
  assert.equal(now.current_phase?.start_date, periodEnd);

  const events = await t.eventsAbout(customer.id, {
    until: (es) =>
      es.some(
        (e) =>
          e.type === "customer.subscription.updated" &&
          (e.data.previous_attributes as { items?: unknown } | undefined)?.items !== undefined,
      ),
  });
  const change = events.find((e) => {
    const prev = e.data.previous_attributes as Partial<Stripe.Subscription> | undefined;
    return (
      e.type === "customer.subscription.updated" && prev?.items?.data[0]?.price.id === price.id
    );
  });
  assert.ok(change, "customer.subscription.updated names the old items");
  const prev = change.data.previous_attributes ?? {};
  assert.equal("customer" in prev || "status" in prev || "currency" in prev, false);
});

test("a promotion code on the next phase is redeemed when it starts and discounts the renewal", async () => {
  const { sub, clock, starter, periodEnd, price } = await proSubscriber(t.stripe);
  const coupon = await t.stripe.coupons.create({ percent_off: 50, duration: "forever" });
  const promo = await t.stripe.promotionCodes.create({
    promotion: { type: "coupon", coupon: coupon.id },
  });
  const made = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = made.phases[0];
  assert.ok(current);
  const bad = await refusal(
    t.stripe.subscriptionSchedules.update(made.id, {
      phases: [
        {
          items: [{ price: price.id }],
          start_date: current.start_date,
          end_date: current.end_date,
        },
        { items: [{ price: starter.id }], discounts: [{ promotion_code: "promo_missing" }] },
      ],
    }),
  );
  assert.equal(bad.code, "resource_missing", "a missing promotion code is refused when set");
  const sched = await t.stripe.subscriptionSchedules.update(made.id, {
    phases: [
      { items: [{ price: price.id }], start_date: current.start_date, end_date: current.end_date },
      { items: [{ price: starter.id }], discounts: [{ promotion_code: promo.id }] },
    ],
  });
  assert.equal(sched.phases[1]?.discounts[0]?.promotion_code, promo.id);
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).discounts.length, 0);
  await advanceClock(t.stripe, clock.id, periodEnd + 2 * 3600);
  const discounted = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(discounted.discounts.length, 1);
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_paid, 500);
  assert.equal((await t.stripe.promotionCodes.retrieve(promo.id)).times_redeemed, 1);
});

test("releasing a scheduled downgrade keeps the current price at the renewal", async () => {
  const { sub, clock, customer, starter, price, periodEnd } = await proSubscriber(t.stripe);
  const sched = await scheduleDowngrade(t.stripe, sub, starter.id);
  const released = await t.stripe.subscriptionSchedules.release(sched.id);
  assert.equal(released.status, "released");
  assert.equal(released.subscription, null);
  assert.equal(released.released_subscription, sub.id);
  assert.equal(typeof released.released_at, "number");
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).schedule, null);

  await advanceClock(t.stripe, clock.id, periodEnd + 2 * 3600);
  const renewed = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(renewed.items.data[0]?.price.id, price.id);
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_paid, 2000);
  const again = await refusal(t.stripe.subscriptionSchedules.release(sched.id));
  assert.equal(again.statusCode, 400);
  const events = await t.eventsAbout(customer.id, { until: has("subscription_schedule.released") });
  assert.ok(has("subscription_schedule.released")(events));
});

test("after the last phase, end_behavior release leaves the subscription running on its own", async () => {
  const { sub, clock, customer, starter, periodEnd } = await proSubscriber(t.stripe);
  const sched = await scheduleDowngrade(t.stripe, sub, starter.id);
  const lastEnd = sched.phases[1]?.end_date ?? 0;
  assert.ok(lastEnd > periodEnd);
  await advanceClock(t.stripe, clock.id, lastEnd + 2 * 3600);
  const done = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.equal(done.status, "released");
  assert.equal(done.released_subscription, sub.id);
  const running = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(running.status, "active");
  assert.equal(running.schedule, null);
  assert.equal(running.items.data[0]?.price.id, starter.id);
  const events = await t.eventsAbout(customer.id, {
    until: has("subscription_schedule.expiring"),
  });
  const expiring = events.filter((e) => e.type === "subscription_schedule.expiring");
  assert.equal(expiring.length, 1);
  assert.equal(expiring[0]?.created, lastEnd - 7 * DAY);
});

test("a phase ending mid-period prorates the change and merges its metadata into the subscription", async () => {
  const { sub, clock, customer, starter, price, frozenTime } = await proSubscriber(t.stripe);
  const made = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = made.phases[0];
  assert.ok(current);
  const switchAt = frozenTime + 10 * DAY;
  await t.stripe.subscriptionSchedules.update(made.id, {
    phases: [
      { items: [{ price: price.id }], start_date: current.start_date, end_date: switchAt },
      {
        items: [{ price: starter.id }],
        metadata: { plan: "starter" },
        proration_behavior: "create_prorations",
      },
    ],
  });
  await advanceClock(t.stripe, clock.id, switchAt + 60);
  const moved = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(moved.items.data[0]?.price.id, starter.id);
  assert.equal(moved.metadata.plan, "starter");
  const pending = await t.stripe.invoiceItems.list({ customer: customer.id, pending: true });
  assert.equal(pending.data.length, 2, "unused Pro time credited, remaining Starter time charged");
  const total = pending.data.reduce((sum, item) => sum + item.amount, 0);
  assert.ok(total < 0, `a downgrade leaves a credit (${total})`);
});

test("a phase with billing_cycle_anchor=phase_start restarts the cycle and bills it at once", async () => {
  const { sub, clock, starter, price, frozenTime, periodEnd } = await proSubscriber(t.stripe);
  const made = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = made.phases[0];
  assert.ok(current);
  const switchAt = frozenTime + 10 * DAY;
  await t.stripe.subscriptionSchedules.update(made.id, {
    phases: [
      { items: [{ price: price.id }], start_date: current.start_date, end_date: switchAt },
      { items: [{ price: starter.id }], billing_cycle_anchor: "phase_start" },
    ],
  });
  await advanceClock(t.stripe, clock.id, switchAt + 60);
  const restarted = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(restarted.billing_cycle_anchor, switchAt);
  assert.equal(restarted.items.data[0]?.current_period_start, switchAt);
  const unused = Math.round((2000 * (periodEnd - switchAt)) / (periodEnd - frozenTime));
  const bill = await latestInvoice(t.stripe, sub.id);
  assert.equal(bill.total, 1000 - unused, "the new cycle in full, less the old plan's unused time");
});

test("end_date=now on the running phase starts the next phase with the update", async () => {
  const { sub, clock, starter, price, frozenTime } = await proSubscriber(t.stripe);
  const made = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = made.phases[0];
  assert.ok(current);
  const now = frozenTime + 5 * DAY;
  await advanceClock(t.stripe, clock.id, now);
  const sched = await t.stripe.subscriptionSchedules.update(made.id, {
    phases: [
      { items: [{ price: price.id }], start_date: current.start_date, end_date: "now" },
      { items: [{ price: starter.id }], proration_behavior: "none" },
    ],
  });
  assert.equal(sched.phases[0]?.end_date, now);
  assert.deepEqual(sched.current_phase, { start_date: now, end_date: sched.phases[1]?.end_date });
  const moved = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(moved.items.data[0]?.price.id, starter.id);
});

test("a trialing subscription's downgrade is scheduled for the trial end and billed then", async () => {
  const { sub, clock } = await clockSubscribed(t.stripe, {
    amount: 2000,
    params: { trial_period_days: 14 },
  });
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const made = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = made.phases[0];
  assert.ok(current);
  assert.equal(current.end_date, sub.trial_end);
  assert.equal(current.trial_end, sub.trial_end);
  await t.stripe.subscriptionSchedules.update(made.id, {
    phases: [
      {
        items: [{ price: String(current.items[0]?.price) }],
        start_date: current.start_date,
        end_date: current.end_date,
        trial_end: current.trial_end ?? undefined,
      },
      { items: [{ price: starter.id }], duration: { interval: "month" } },
    ],
  });
  await advanceClock(t.stripe, clock.id, (sub.trial_end ?? 0) + 2 * 3600);
  const converted = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(converted.status, "active");
  assert.equal(converted.items.data[0]?.price.id, starter.id);
  assert.equal((await latestInvoice(t.stripe, sub.id)).amount_paid, 1000);
});

test("the subscription's cancellation is the schedule's while it is attached", async () => {
  const { sub } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const err = await refusal(t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true }));
  assert.equal(err.statusCode, 400);
  assert.match(err.message, new RegExp(`managed by the subscription schedule \`${sched.id}\``));
  const again = await refusal(t.stripe.subscriptionSchedules.create({ from_subscription: sub.id }));
  assert.equal(again.statusCode, 400);
});

test("an update cannot move the current phase's start", async () => {
  const { sub, starter } = await proSubscriber(t.stripe);
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = sched.phases[0];
  assert.ok(current);
  const err = await refusal(
    t.stripe.subscriptionSchedules.update(sched.id, {
      phases: [
        {
          items: [{ price: starter.id }],
          start_date: current.start_date + DAY,
          end_date: current.end_date,
        },
      ],
    }),
  );
  assert.equal(err.statusCode, 400);
  const unchanged = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.deepEqual(unchanged.phases, sched.phases);
});

test(
  "schedule events reach the webhook endpoint",
  emulatorOnly("reads the emulator's webhook receiver"),
  async () => {
    const { sub, clock, starter, periodEnd } = await proSubscriber(t.stripe);
    const sched = await scheduleDowngrade(t.stripe, sub, starter.id);
    await advanceClock(t.stripe, clock.id, periodEnd + 60);
    await t.stripe.subscriptionSchedules.release(sched.id);
    const h = t.emulator();
    await h.emulator.idle();
    const delivered = h.receiver
      .events()
      .filter((e) => e.type.startsWith("subscription_schedule."))
      .map((e) => e.type);
    assert.deepEqual(delivered, [
      "subscription_schedule.created",
      "subscription_schedule.updated",
      "subscription_schedule.updated",
      "subscription_schedule.released",
    ]);
    const phaseChange = h.receiver
      .events()
      .filter((e) => e.type === "subscription_schedule.updated")
      .at(-1);
    assert.deepEqual(Object.keys(phaseChange?.data.previous_attributes ?? {}), ["current_phase"]);
  },
);
