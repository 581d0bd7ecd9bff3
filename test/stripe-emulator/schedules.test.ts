import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { advanceClock, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { clockSubscribed } from "./contract/clock-subscribed.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { DAY } from "./helpers.ts";

// Time moves with test clocks, so these run on Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

const types = (events: Stripe.Event[]): string[] => events.map((e) => e.type);
const has = (type: string) => (events: Stripe.Event[]) => types(events).includes(type);

async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const err = await call.then(
    () => assert.fail("Stripe accepted it"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Stripe.errors.StripeError, String(err));
  return err;
}

async function balanceOf(customerId: string): Promise<number> {
  const customer = await t.stripe.customers.retrieve(customerId);
  assert.ok(!customer.deleted);
  return customer.balance;
}

/** A Pro subscriber (20.00 a month) on a test clock, and a cheaper Starter price (10.00). */
async function proSubscriber() {
  const subscribed = await clockSubscribed(t.stripe, { amount: 2000 });
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const periodEnd = subscribed.sub.items.data[0]?.current_period_end ?? 0;
  return { ...subscribed, starter, periodEnd };
}

/**
 * The plan-change flow: a schedule made from the subscription, then two phases, the current
 * items until the period end and the new price after it.
 */
async function scheduleDowngrade(sub: Stripe.Subscription, newPrice: string) {
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = sched.phases[0];
  assert.ok(current);
  return t.stripe.subscriptionSchedules.update(sched.id, {
    proration_behavior: "none",
    phases: [
      {
        items: current.items.map((i) => ({ price: String(i.price), quantity: i.quantity })),
        start_date: current.start_date,
        end_date: current.end_date,
      },
      { items: [{ price: newPrice, quantity: 1 }], duration: { interval: "month" } },
    ],
  });
}

test("from_subscription makes a one-phase schedule of the current period, shown on the subscription", async () => {
  const { sub, price, customer, periodEnd } = await proSubscriber();
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
  const { sub, clock, customer, starter, price, periodEnd } = await proSubscriber();
  const sched = await scheduleDowngrade(sub, starter.id);
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

test("releasing a scheduled downgrade keeps the current price at the renewal", async () => {
  const { sub, clock, customer, starter, price, periodEnd } = await proSubscriber();
  const sched = await scheduleDowngrade(sub, starter.id);
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
  const { sub, clock, customer, starter, periodEnd } = await proSubscriber();
  const sched = await scheduleDowngrade(sub, starter.id);
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

test("end_behavior cancel sets cancel_at on the subscription and ends it after the last phase", async () => {
  const { sub, clock, customer, periodEnd } = await proSubscriber();
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
  const { customer, clock, starter, price, frozenTime } = await proSubscriber();
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

test("a phase ending mid-period prorates the change and merges its metadata into the subscription", async () => {
  const { sub, clock, customer, starter, price, frozenTime } = await proSubscriber();
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

test("a first phase marked trial makes a trialing subscription billed from the next phase", async () => {
  const { customer, clock, starter, price } = await proSubscriber();
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
  const { customer, clock, starter, frozenTime } = await proSubscriber();
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
  const { sub, customer } = await proSubscriber();
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
  const { sub, clock, customer, frozenTime, periodEnd } = await proSubscriber();
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const at = frozenTime + 10 * DAY;
  await advanceClock(t.stripe, clock.id, at);
  await t.stripe.subscriptionSchedules.cancel(sched.id);
  const final = await latestInvoice(t.stripe, sub.id);
  const unused = Math.round((2000 * (periodEnd - at)) / (periodEnd - frozenTime));
  assert.equal(final.total, -unused);
  assert.equal(await balanceOf(customer.id), -unused);

  const other = await proSubscriber();
  const quiet = await t.stripe.subscriptionSchedules.create({ from_subscription: other.sub.id });
  await t.stripe.subscriptionSchedules.cancel(quiet.id, { prorate: false });
  assert.equal((await latestInvoice(t.stripe, other.sub.id)).billing_reason, "subscription_create");
  assert.equal(await balanceOf(other.customer.id), 0);
});

test("canceling the subscription under a schedule ends the schedule", async () => {
  const { sub } = await proSubscriber();
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  await t.stripe.subscriptions.cancel(sub.id);
  const ended = await t.stripe.subscriptionSchedules.retrieve(sched.id);
  assert.equal(ended.status, "canceled");
  assert.equal(ended.current_phase, null);
});

test("the subscription's cancellation is the schedule's while it is attached", async () => {
  const { sub } = await proSubscriber();
  const sched = await t.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const err = await refusal(t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true }));
  assert.equal(err.statusCode, 400);
  assert.match(err.message, new RegExp(`managed by the subscription schedule \`${sched.id}\``));
  const again = await refusal(t.stripe.subscriptionSchedules.create({ from_subscription: sub.id }));
  assert.equal(again.statusCode, 400);
});

test("an update cannot move the current phase's start", async () => {
  const { sub, starter } = await proSubscriber();
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

test("refusals: phases with from_subscription, unknown parameters, an unknown schedule", async () => {
  const { sub, starter } = await proSubscriber();
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
    const { sub, clock, customer, starter, periodEnd } = await proSubscriber();
    const sched = await scheduleDowngrade(sub, starter.id);
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

test(
  "schedule events reach the webhook endpoint",
  emulatorOnly("reads the emulator's webhook receiver"),
  async () => {
    const { sub, clock, starter, periodEnd } = await proSubscriber();
    const sched = await scheduleDowngrade(sub, starter.id);
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
