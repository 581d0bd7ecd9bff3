import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { and, eq, inArray } from "drizzle-orm";
import { setStripeCustomerId } from "../../src/accounts/accounts-service.ts";
import { billingDepsOf } from "../../src/billing/billing-deps.ts";
import { handleEvent } from "../../src/billing/stripe-events.ts";
import { RetryLater } from "../../src/billing/subscription-projection.ts";
import { commands as webhookCommands } from "../../src/cli.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import {
  type BillingTestApp,
  type Customer,
  DAY,
  latestPaymentIntent,
  startBillingApp,
} from "../helpers/billing.ts";
import { shuffle } from "../helpers/lives.ts";
import { waitFor } from "../helpers/wait.ts";

/** Set by a test to run code after Stripe created a subscription but before our API hears back. */
let onSubscriptionCreated: ((id: string) => Promise<void>) | null = null;
const gate: Stage = async (ex, next) => {
  const reply = await next();
  const body = reply.body as { id?: unknown } | undefined;
  if (
    onSubscriptionCreated &&
    ex.method === "POST" &&
    ex.path === "/v1/subscriptions" &&
    reply.status === 200 &&
    typeof body?.id === "string"
  ) {
    await onSubscriptionCreated(body.id);
  }
  return reply;
};

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ stages: [gate] });
});
after(() => t?.close());

/**
 * A subscription made in Stripe's dashboard (no API request of ours records it): a customer with
 * `email` and a default card, subscribed to `priceId`. `link` runs once the customer exists, before
 * anything is charged; `metadata` goes on the subscription.
 */
async function dashboardSubscription(
  email: string,
  priceId: string,
  options: { link?: (customerId: string) => Promise<void>; metadata?: Record<string, string> } = {},
) {
  const customer = await t.stripe.customers.create({ email });
  await options.link?.(customer.id);
  const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  await t.stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: priceId }],
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
  return { customerId: customer.id, sub };
}

/** A subscription's whole life: paid, renewed, canceled at period end, ended. */
async function life(buyer: Customer, planId: string): Promise<void> {
  const created = await t.subscribe(buyer, planId);
  assert.equal(created.status, 201);
  await t.emulator.advanceTime(31 * DAY + 2 * 3600);
  const cancel = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
  assert.equal(cancel.status, 200);
  await t.emulator.advanceTime(32 * DAY);
}

/** What a user's billing looks like, without ids and times that differ between two users. */
async function picture(userId: string) {
  const subs = await t.subscriptionsOf(userId);
  const pays = await t.paymentsOf(userId);
  const mails = await t.emailsOf(userId);
  return {
    subscriptions: subs.map((s) => ({
      status: s.status,
      started: s.started,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      ended: s.endedAt !== null,
      renewed: (s.currentPeriodStart?.getTime() ?? 0) > s.stripeCreatedAt.getTime(),
    })),
    payments: pays.map((p) => `${p.status}:${p.amount}:${p.currency}:${p.attempt}`),
    emails: mails.map((m) => m.template).filter((n) => n.startsWith("billing.")),
  };
}

describe("delivery order and redelivery", () => {
  test("three deliveries of every event, shuffled, leave the state and rows of one in-order delivery", async () => {
    await t.resetStripe();
    const plan = await t.plan({ amount: 1200 });
    const a = await t.signUp();
    const b = await t.signUp();
    t.emulator.holdDeliveries(true);
    await life(a, plan.id);
    const eventsA = t.emulator.heldEvents();
    await life(b, plan.id);
    const eventsB = t.emulator.heldEvents().filter((id) => !eventsA.includes(id));
    assert.ok(eventsB.length >= 10, `a life has many events (${eventsB.length})`);

    await t.emulator.deliver(eventsA);
    await t.settle();
    await t.emulator.deliver(shuffle([...eventsB, ...eventsB, ...eventsB]));
    await t.settle();
    t.emulator.holdDeliveries(false);
    await t.settle();

    const inOrder = await picture(a.userId);
    assert.deepEqual(await picture(b.userId), inOrder);
    assert.deepEqual(inOrder.subscriptions, [
      { status: "canceled", started: true, cancelAtPeriodEnd: true, ended: true, renewed: true },
    ]);
    assert.deepEqual(inOrder.payments, ["succeeded:1200:usd:0", "succeeded:1200:usd:0"]);
    assert.deepEqual(inOrder.emails.sort(), [
      "billing.cancellation",
      "billing.subscription_confirmation",
      "billing.subscription_confirmation",
    ]);
  });

  test("20 concurrent creates make one Stripe subscription and one payment", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.subscribe(buyer, plan.id)),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, ...Array(19).fill(400)]);
    await t.settle();
    const customers = await t.stripe.customers.list({ email: buyer.email });
    assert.equal(customers.data.length, 1);
    const subs = await t.stripe.subscriptions.list({
      customer: customers.data[0]?.id,
      status: "all",
    });
    assert.equal(subs.data.length, 1);
    assert.equal((await t.paymentsOf(buyer.userId)).length, 1);
    assert.equal((await t.subscriptionsOf(buyer.userId)).length, 1);
  });

  test("a subscription webhook processed before the create request commits is not lost", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan();
    const { db } = t.services.database;
    let seenFirst = false;
    onSubscriptionCreated = async (subscriptionId) => {
      // Stripe answered, our request has not: wait until the webhook did its work.
      await waitFor(async () => {
        const [row] = await db
          .select()
          .from(stripeEvents)
          .where(
            and(
              eq(stripeEvents.type, "customer.subscription.created"),
              eq(stripeEvents.status, "processed"),
            ),
          );
        const rows = await t.subscriptionsOf(buyer.userId);
        return row && rows.some((r) => r.stripeSubscriptionId === subscriptionId);
      });
      seenFirst = true;
    };
    try {
      const res = await t.subscribe(buyer, plan.id);
      assert.equal(res.status, 201);
      assert.equal(res.body.subscription.status, "active");
    } finally {
      onSubscriptionCreated = null;
    }
    assert.ok(seenFirst, "the webhook was processed first");
    await t.settle();
    const rows = await t.subscriptionsOf(buyer.userId);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.status, "active");
  });

  test("a failing handler is retried, listed as failed, and replayed once the cause is fixed", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 700 });
    // A customer made in Stripe's dashboard: no metadata, not linked to any user yet.
    const { customerId, sub } = await dashboardSubscription(buyer.email, plan.stripe_price_id);
    await t.emulator.idle();
    const { db } = t.services.database;
    const failedOf = async () => {
      const lines: string[] = [];
      const code = await webhookCommands["webhooks:list"]?.run({
        config: t.config,
        logger: t.services.logger,
        values: { failed: true },
        positionals: [],
        services: t.services,
        out: (line) => lines.push(line),
        stdin: Readable.from([]),
      });
      assert.equal(code, 0);
      return lines.filter((l) => l.includes("\tfailed\t"));
    };
    await waitFor(
      async () => {
        const open = await db
          .select({ id: stripeEvents.id })
          .from(stripeEvents)
          .where(inArray(stripeEvents.status, ["pending", "retrying"]));
        return open.length === 0;
      },
      { timeoutMs: 20_000, what: "the events to be dead-lettered" },
    );
    const failed = await failedOf();
    assert.ok(failed.some((l) => l.includes("customer.subscription.created")));
    assert.ok(failed.some((l) => l.includes("invoice.paid")));
    assert.ok(
      failed.every((l) => /\t2\t/.test(l)),
      "two attempts: the first and one retry",
    );
    assert.deepEqual(await t.subscriptionsOf(buyer.userId), []);

    await setStripeCustomerId(db, buyer.userId, customerId);
    for (const line of failed) {
      const id = line.split("\t")[1] ?? "";
      const out: string[] = [];
      const code = await webhookCommands["webhooks:replay"]?.run({
        config: t.config,
        logger: t.services.logger,
        values: {},
        positionals: [id],
        services: t.services,
        out: (l) => out.push(l),
        stdin: Readable.from([]),
      });
      assert.equal(code, 0, out.join("\n"));
      assert.match(out.join("\n"), /: processed$/);
    }
    const rows = await t.subscriptionsOf(buyer.userId);
    assert.equal(rows[0]?.stripeSubscriptionId, sub.id);
    const pays = await t.paymentsOf(buyer.userId);
    assert.deepEqual(
      pays.map((p) => `${p.status}:${p.amount}`),
      ["succeeded:700"],
    );
    assert.deepEqual(await failedOf(), []);
  });
  test("a refund seen before the payment it refunds waits for it, then names its invoice", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 900 });
    const { db } = t.services.database;
    t.emulator.holdDeliveries(true);
    // Made in Stripe's dashboard for a linked customer: no API request records the payment.
    const { sub } = await dashboardSubscription(buyer.email, plan.stripe_price_id, {
      link: async (customerId) => {
        await setStripeCustomerId(db, buyer.userId, customerId);
      },
      metadata: { user_id: buyer.userId },
    });
    await t.stripe.refunds.create({
      payment_intent: await latestPaymentIntent(t.stripe, sub.id),
      amount: 300,
    });
    const latest = async (type: "charge.refunded" | "invoice.paid") => {
      const [event] = (await t.stripe.events.list({ type, limit: 1 })).data;
      assert.ok(event && t.emulator.heldEvents().includes(event.id));
      return event;
    };
    const deps = billingDepsOf(t.services);
    const refunded = await latest("charge.refunded");
    await assert.rejects(handleEvent(deps, refunded), RetryLater);
    assert.deepEqual(await t.paymentsOf(buyer.userId), []);
    assert.equal(await handleEvent(deps, await latest("invoice.paid")), "processed");
    assert.equal(await handleEvent(deps, refunded), "processed");

    const rows = await t.paymentsOf(buyer.userId);
    const paid = rows.find((r) => r.status === "succeeded");
    const refund = rows.find((r) => r.status === "refunded");
    assert.ok(paid);
    assert.equal(refund?.amount, 300);
    assert.equal(refund?.stripeInvoiceId, paid.stripeInvoiceId);
    assert.equal(refund?.subscriptionId, paid.subscriptionId);
    assert.match(refund?.description ?? "", /^Refund of /);
    t.emulator.holdDeliveries(false);
    await t.settle();
    assert.equal((await t.paymentsOf(buyer.userId)).length, 2);
  });
});
