import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { WRITE_IN_PROGRESS } from "../../src/billing/billing-lock.ts";
import { plans } from "../../src/billing/billing-tables.ts";
import { billingWriteLocks } from "../../src/billing/change-tables.ts";
import type { Exchange, Stage } from "../../stripe-emulator/server.ts";
import {
  type BillingTestApp,
  type Customer,
  DAY,
  type HttpResult,
  startBillingApp,
} from "../helpers/billing.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * Holds the first Stripe call that `arm` selects until `release`, so a second request can be
 * sent while the first is inside its Stripe round trips: the moment two requests race.
 */
function stripeGate() {
  let select: ((ex: Exchange) => boolean) | null = null;
  let held = false;
  let open = () => {};
  let opened = Promise.resolve();
  const calls: string[] = [];
  const stage: Stage = async (ex, next) => {
    calls.push(`${ex.method} ${ex.path}`);
    if (select?.(ex)) {
      select = null;
      held = true;
      await opened;
    }
    return next();
  };
  return {
    stage,
    /** Every Stripe call since the emulator started, `METHOD /path`. */
    calls,
    arm(which: (ex: Exchange) => boolean) {
      held = false;
      opened = new Promise((resolve) => {
        open = resolve;
      });
      select = which;
    },
    held: () => held,
    release: () => open(),
  };
}

const gate = stripeGate();
let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ stages: [gate.stage] });
});
after(() => {
  gate.release();
  return t?.close();
});

const change = (c: Customer, body: unknown) =>
  t.http("POST", "/api/subscriptions/change/", { token: c.token, body });
const cancel = (c: Customer) =>
  t.http("POST", "/api/subscriptions/cancel/", { token: c.token, body: {} });
const status = (c: Customer) => t.http("GET", "/api/subscriptions/status/", { token: c.token });

async function subscribed(planId: string): Promise<{ buyer: Customer; subId: string }> {
  const buyer = await t.signUp();
  const res = await t.subscribe(buyer, planId);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await t.settle();
  const [row] = await t.subscriptionsOf(buyer.userId);
  assert.ok(row);
  return { buyer, subId: row.stripeSubscriptionId };
}

/**
 * Sends `first`, holds its first Stripe call that `which` selects, sends `second` meanwhile and
 * waits for its answer, then lets the first go on. Both answers, first's then second's.
 */
async function race(
  which: (ex: Exchange) => boolean,
  first: () => Promise<HttpResult>,
  second: () => Promise<HttpResult>,
): Promise<[HttpResult, HttpResult]> {
  gate.arm(which);
  const one = first();
  await waitFor(gate.held, { what: "the first request's Stripe call to be held" });
  const two = await second();
  gate.release();
  return [await one, two];
}

const post = (path: string) => (ex: Exchange) => ex.method === "POST" && ex.path === path;

/** The proration invoices Stripe made for the subscription (one per change charged now). */
async function prorationInvoices(subId: string): Promise<number> {
  const list = await t.stripe.invoices.list({ subscription: subId, limit: 100 });
  return list.data.filter((inv) => inv.billing_reason === "subscription_update").length;
}

describe("one billing write per user at a time", () => {
  beforeEach(() => t.resetStripe());

  test("two upgrades at once: the second is a 409, one proration is charged; its retry is charged once", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const team = await t.plan({ amount: 5000 });
    const { buyer, subId } = await subscribed(starter.id);
    await t.advance(10 * DAY);

    const [first, second] = await race(
      post(`/v1/subscriptions/${subId}`),
      () => change(buyer, { plan_id: pro.id }),
      () => change(buyer, { plan_id: team.id }),
    );
    await t.settle();
    // Unserialized, both read Starter and both reached Stripe: two proration invoices.
    assert.equal(await prorationInvoices(subId), 1);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.subscription.plan.id, pro.id);
    assert.equal(second.status, 409, JSON.stringify(second.body));
    assert.deepEqual(second.body, { error: WRITE_IN_PROGRESS });

    // The refused one, sent again, acts on what the first did: one more proration, from Pro.
    const retried = await change(buyer, { plan_id: team.id });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    await t.settle();
    assert.equal(await prorationInvoices(subId), 2);
    const sub = await t.stripe.subscriptions.retrieve(subId);
    const [teamRow] = await t.services.database.db
      .select({ priceId: plans.stripePriceId })
      .from(plans)
      .where(eq(plans.id, team.id));
    assert.equal(sub.items.data[0]?.price.id, teamRow?.priceId);
    assert.equal((await status(buyer)).body.plan.id, team.id);
    // The lease is given back after each request.
    const leases = await t.services.database.db
      .select()
      .from(billingWriteLocks)
      .where(eq(billingWriteLocks.userId, buyer.userId));
    assert.deepEqual(leases, []);
  });

  test("a downgrade being scheduled and a cancellation at once: the cancellation the user was told of holds", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const { buyer, subId } = await subscribed(pro.id);

    const [scheduled, canceled] = await race(
      post("/v1/subscription_schedules"),
      () => change(buyer, { plan_id: starter.id }),
      () => cancel(buyer),
    );
    await t.settle();
    // Unserialized, both were answered 200, but the schedule made after the cancellation took it
    // over (`end_behavior: release`): the subscription the user was told is canceled renews.
    const between = await t.stripe.subscriptions.retrieve(subId);
    if (canceled.status === 200) assert.equal(between.cancel_at_period_end, true);
    if (scheduled.status === 200) assert.ok(between.schedule);
    assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
    assert.equal(scheduled.body.status, "scheduled");
    assert.equal(canceled.status, 409, JSON.stringify(canceled.body));
    assert.deepEqual(canceled.body, { error: WRITE_IN_PROGRESS });

    // Sent again, the cancellation sees the schedule and releases it first.
    const again = await cancel(buyer);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    await t.settle();
    const sub = await t.stripe.subscriptions.retrieve(subId);
    assert.equal(sub.cancel_at_period_end, true);
    assert.equal(sub.schedule, null);
    const schedules = await t.stripe.subscriptionSchedules.list({
      customer: String(sub.customer),
    });
    assert.deepEqual(
      schedules.data.map((s) => s.status),
      ["released"],
    );
    const now = (await status(buyer)).body;
    assert.equal(now.cancel_at_period_end, true);
    assert.equal(now.pending_change, null);
  });

  test("a cancellation in flight refuses a change, which then sees the cancellation", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const { buyer, subId } = await subscribed(starter.id);

    const [canceled, changed] = await race(
      post(`/v1/subscriptions/${subId}`),
      () => cancel(buyer),
      () => change(buyer, { plan_id: pro.id }),
    );
    await t.settle();
    // Unserialized, the upgrade was charged on a subscription being canceled.
    assert.equal(await prorationInvoices(subId), 0);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.equal(changed.status, 409, JSON.stringify(changed.body));
    const again = await change(buyer, { plan_id: pro.id });
    assert.equal(again.status, 400);
    assert.match(again.body.error, /set to cancel/);
  });

  test("dropping a scheduled change and an upgrade at once: the upgrade, sent again, is charged once", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const team = await t.plan({ amount: 5000 });
    const { buyer, subId } = await subscribed(pro.id);
    const scheduled = await change(buyer, { plan_id: starter.id });
    assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
    await t.settle();
    const scheduleId = (await t.stripe.subscriptions.retrieve(subId)).schedule;
    assert.equal(typeof scheduleId, "string");

    const [dropped, upgraded] = await race(
      post(`/v1/subscription_schedules/${scheduleId}/release`),
      () => t.http("DELETE", "/api/subscriptions/change/", { token: buyer.token }),
      () => change(buyer, { plan_id: team.id }),
    );
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    assert.equal(upgraded.status, 409, JSON.stringify(upgraded.body));
    const again = await change(buyer, { plan_id: team.id });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, "changed");
    await t.settle();
    assert.equal(await prorationInvoices(subId), 1);
    const sub = await t.stripe.subscriptions.retrieve(subId);
    assert.equal(sub.schedule, null);
    const now = (await status(buyer)).body;
    assert.equal(now.plan.id, team.id);
    assert.equal(now.pending_change, null);
  });

  test("a scheduled change asked for again is answered as it is, with nothing written", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const { buyer } = await subscribed(pro.id);
    const first = await change(buyer, { plan_id: starter.id });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    await t.settle();

    const from = gate.calls.length;
    const again = await change(buyer, { plan_id: starter.id });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, "scheduled");
    assert.deepEqual(
      again.body.subscription.pending_change,
      first.body.subscription.pending_change,
    );
    assert.deepEqual(
      gate.calls.slice(from).filter((c) => !c.startsWith("GET ")),
      [],
    );
    await t.settle();
    const mails = (await t.emailsOf(buyer.userId)).map((m) => m.template);
    assert.equal(mails.filter((m) => m === "billing.plan_change_scheduled").length, 1);
  });

  test("a lease left by a process that died is taken over once expired", async () => {
    const starter = await t.plan({ amount: 1000 });
    const pro = await t.plan({ amount: 3000 });
    const { buyer } = await subscribed(starter.id);
    const { db } = t.services.database;
    const lease = (expiresAt: ReturnType<typeof sql>) =>
      db
        .insert(billingWriteLocks)
        .values({
          userId: buyer.userId,
          holder: crypto.randomUUID(),
          operation: "change",
          expiresAt,
        })
        .onConflictDoUpdate({ target: billingWriteLocks.userId, set: { expiresAt } });

    await lease(sql`now() + interval '1 minute'`);
    const refused = await change(buyer, { plan_id: pro.id });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));

    await lease(sql`now() - interval '1 second'`);
    const done = await change(buyer, { plan_id: pro.id });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.subscription.plan.id, pro.id);
  });
});
