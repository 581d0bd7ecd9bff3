import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { pino } from "pino";
import { billingDepsOf } from "../../src/billing/billing-deps.ts";
import { checkoutSessions } from "../../src/billing/hosted-tables.ts";
import { handleEvent } from "../../src/billing/stripe-events.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";

// create/ and a Checkout Session must never both make a subscription for one user
// (docs/architecture.md, 'One live subscription per user'): every interleaving leaves exactly one.

/**
 * Runs `before`/`after` around one Stripe request matching `method` (any when left out) and
 * `path`: the first, or the one after `skip` others; then disarms itself.
 */
interface Hook {
  method?: string;
  path: RegExp;
  skip?: number;
  before?: () => Promise<void>;
  after?: () => Promise<void>;
}
let hook: Hook | null = null;
const hooks: Stage = async (ex, next) => {
  const h = hook;
  if (!h || (h.method && ex.method !== h.method) || !h.path.test(ex.path)) return next();
  if (h.skip) {
    h.skip -= 1;
    return next();
  }
  hook = null;
  await h.before?.();
  const reply = await next();
  await h.after?.();
  return reply;
};

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ stages: [hooks] });
});
after(() => t?.close());

const ALREADY = { error: "You already have an active subscription." };
const EXPIRE = /^\/v1\/checkout\/sessions\/cs_test_\w+\/expire$/;

const checkout = (buyer: Customer, planId: string) =>
  t.http("POST", "/api/subscriptions/checkout/", { token: buyer.token, body: { plan_id: planId } });

/** A user with an open Checkout Session for a new plan. */
async function openSession() {
  const plan = await t.plan({ amount: 1900 });
  const buyer = await t.signUp();
  const res = await checkout(buyer, plan.id);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const session = await t.stripe.checkout.sessions.retrieve(res.body.session_id);
  return {
    plan,
    buyer,
    sessionId: session.id,
    url: String(res.body.url),
    customer: String(session.customer),
  };
}

/** The customer's subscriptions at Stripe that have not ended, read with the SDK. */
async function liveAtStripe(customer: string): Promise<string[]> {
  const listed = await t.stripe.subscriptions.list({ customer, limit: 100 });
  return listed.data.map((s) => s.id);
}

const rowStatus = async (sessionId: string) =>
  (
    await t.services.database.db
      .select({ status: checkoutSessions.status })
      .from(checkoutSessions)
      .where(eq(checkoutSessions.stripeSessionId, sessionId))
  )[0]?.status;

describe("create/ while a Checkout Session is open", () => {
  test("create/ expires the open session: one subscription, and the page can no longer be paid", async () => {
    const { plan, buyer, sessionId, url, customer } = await openSession();
    const created = await t.subscribe(buyer, plan.id);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = await t.stripe.checkout.sessions.retrieve(sessionId);
    assert.equal(session.status, "expired");
    await assert.rejects(t.emulator.completeCheckoutSession(sessionId), /expired/);
    const page = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "payment_method=pm_card_visa",
    });
    assert.match(await page.text(), /Session expired/);
    await t.settle();
    assert.deepEqual(await liveAtStripe(customer), [
      created.body.subscription.stripe_subscription_id,
    ]);
    assert.equal(await rowStatus(sessionId), "expired");
    assert.equal((await t.paymentsOf(buyer.userId)).length, 1);
  });

  test("a session paid before create/ (its webhook not processed yet): create/ is refused", async () => {
    const { plan, buyer, sessionId, customer } = await openSession();
    t.emulator.holdDeliveries(true);
    let created: Awaited<ReturnType<typeof t.subscribe>>;
    try {
      await t.emulator.completeCheckoutSession(sessionId);
      created = await t.subscribe(buyer, plan.id);
    } finally {
      t.emulator.holdDeliveries(false);
      await t.emulator.deliver(t.emulator.heldEvents());
    }
    assert.deepEqual([created.status, created.body], [400, ALREADY]);
    await t.settle();
    const session = await t.stripe.checkout.sessions.retrieve(sessionId);
    assert.deepEqual(await liveAtStripe(customer), [session.subscription]);
    assert.equal(await rowStatus(sessionId), "complete");
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.stripe_subscription_id, session.subscription);
    assert.equal((await t.paymentsOf(buyer.userId)).length, 1);
  });

  test("the page paid just before create/ expires it: Stripe refuses the expire, create/ is refused", async () => {
    const { plan, buyer, sessionId, customer } = await openSession();
    hook = {
      method: "POST",
      path: EXPIRE,
      before: () => t.emulator.completeCheckoutSession(sessionId),
    };
    const created = await t.subscribe(buyer, plan.id);
    assert.equal(hook, null, "the hook ran");
    assert.deepEqual([created.status, created.body], [400, ALREADY]);
    await t.settle();
    const session = await t.stripe.checkout.sessions.retrieve(sessionId);
    assert.deepEqual(await liveAtStripe(customer), [session.subscription]);
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
  });

  test("the page paid just after create/ expired it: the payment is refused, one subscription", async () => {
    const { plan, buyer, sessionId, customer } = await openSession();
    let refused: unknown;
    hook = {
      method: "POST",
      path: EXPIRE,
      after: async () => {
        refused = await t.emulator.completeCheckoutSession(sessionId).catch((err: unknown) => err);
      },
    };
    const created = await t.subscribe(buyer, plan.id);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(String(refused), /This Checkout Session is expired/);
    await t.settle();
    assert.deepEqual(await liveAtStripe(customer), [
      created.body.subscription.stripe_subscription_id,
    ]);
  });

  test("the page paid at any point of create/: exactly one subscription at Stripe", async () => {
    // The payment lands before create/'s first Stripe request, then before its second, and so
    // on, until create/ finishes first.
    const outcomes = new Set<number>();
    for (let skip = 0; ; skip++) {
      const { plan, buyer, sessionId, customer } = await openSession();
      await t.settle();
      const pay = () =>
        t.emulator.completeCheckoutSession(sessionId).then(
          () => true,
          () => false,
        );
      let paid: boolean | undefined;
      hook = {
        path: /^\/v1\//,
        skip,
        before: async () => {
          paid = await pay();
        },
      };
      const created = await t.subscribe(buyer, plan.id);
      const landed = paid !== undefined;
      hook = null;
      if (!landed) paid = await pay();
      assert.ok([201, 400].includes(created.status), JSON.stringify(created.body));
      assert.equal(
        created.status === 201,
        !paid,
        `request ${skip}: exactly one of the two subscribed`,
      );
      await t.settle();
      assert.equal((await liveAtStripe(customer)).length, 1, `request ${skip}`);
      assert.equal((await t.paymentsOf(buyer.userId)).length, 1, `request ${skip}`);
      outcomes.add(created.status);
      if (!landed) break;
    }
    assert.deepEqual([...outcomes].sort(), [201, 400], "both orders were run");
  });
});

describe("checkout/ while create/ runs", () => {
  test("a session checkout/ was creating when create/ began is expired, never handed out", async () => {
    const plan = await t.plan({ amount: 2300 });
    const buyer = await t.signUp();
    let created: Awaited<ReturnType<typeof t.subscribe>> | undefined;
    hook = {
      method: "POST",
      path: /^\/v1\/checkout\/sessions$/,
      before: async () => {
        created = await t.subscribe(buyer, plan.id);
      },
    };
    const res = await checkout(buyer, plan.id);
    assert.equal(created?.status, 201, JSON.stringify(created?.body));
    assert.deepEqual([res.status, res.body], [400, ALREADY]);
    const sessions = await t.stripe.checkout.sessions.list({
      customer: String(
        (await t.stripe.subscriptions.retrieve(created.body.subscription.stripe_subscription_id))
          .customer,
      ),
    });
    assert.equal(sessions.data.length, 1);
    assert.equal(sessions.data[0]?.status, "expired");
    await t.settle();
  });

  test("checkout/ is refused while a create/ is in flight", async () => {
    const plan = await t.plan({ amount: 2500 });
    const buyer = await t.signUp();
    let during: Awaited<ReturnType<typeof checkout>> | undefined;
    hook = {
      method: "POST",
      path: /^\/v1\/subscriptions$/,
      before: async () => {
        during = await checkout(buyer, plan.id);
      },
    };
    const created = await t.subscribe(buyer, plan.id);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual([during?.status, during?.body], [400, ALREADY]);
    await t.settle();
  });
});

describe("a second live subscription", () => {
  test("is logged as an error when a completed session reveals one, and nothing is canceled", async () => {
    const plan = await t.plan({ amount: 1100 });
    const buyer = await t.signUp();
    const created = await t.subscribe(buyer, plan.id);
    assert.equal(created.status, 201);
    const first: string = created.body.subscription.stripe_subscription_id;
    const customer = String((await t.stripe.subscriptions.retrieve(first)).customer);
    // A session opened outside the app (the Dashboard): nothing of ours expired it.
    const session = await t.stripe.checkout.sessions.create({
      mode: "subscription",
      customer,
      client_reference_id: buyer.userId,
      line_items: [{ price: plan.stripe_price_id, quantity: 1 }],
      success_url: "https://app.example.com/ok",
    });
    await t.emulator.completeCheckoutSession(session.id);
    await t.settle();
    const events = await t.stripe.events.list({ type: "checkout.session.completed", limit: 20 });
    const event = events.data.find((e) => (e.data.object as { id: string }).id === session.id);
    assert.ok(event);
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    assert.equal(await handleEvent({ ...billingDepsOf(t.services), logger }, event), "processed");
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 50);
    assert.equal(errors.length, 1, lines.join("\n"));
    assert.equal(errors[0].user, buyer.userId);
    assert.deepEqual(errors[0].others, [first]);
    assert.equal((await liveAtStripe(customer)).length, 2, "neither subscription was canceled");
  });
});
