import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { billingDepsOf } from "../../src/billing/billing-deps.ts";
import { handleEvent } from "../../src/billing/stripe-events.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import { signPayload } from "../../stripe-emulator/index.ts";
import {
  type BillingTestApp,
  type Customer,
  startBillingApp,
  WEBHOOK_SECRET,
} from "../helpers/billing.ts";
import { waitFor } from "../helpers/wait.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());
// A test that failed while holding deliveries must not leave them held for the next one.
afterEach(async () => {
  t.emulator.holdDeliveries(false);
  await t.settle();
});

/** Subscribes with deliveries held and answers the held events by type, in creation order. */
async function subscribeHeld(buyer: Customer, amount: number) {
  const plan = await t.plan({ amount });
  t.emulator.holdDeliveries(true);
  assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
  const held = [];
  for (const id of t.emulator.heldEvents()) held.push(await t.stripe.events.retrieve(id));
  return held;
}

const receipts = async (userId: string) =>
  (await t.emailsOf(userId)).filter((m) => m.template === "billing.subscription_confirmation");

const paymentsOf = async (userId: string) =>
  (await t.paymentsOf(userId)).map((p) => `${p.status}:${p.amount}`);

describe("invoice.paid and invoice.payment_succeeded", () => {
  test("Stripe sends invoice.payment_succeeded right after invoice.paid for a charged invoice", async () => {
    const held = await subscribeHeld(await t.signUp(), 400);
    t.emulator.holdDeliveries(false);
    const types = held.map((e) => e.type);
    const paid = types.indexOf("invoice.paid");
    assert.ok(paid >= 0, types.join(", "));
    assert.equal(types[paid + 1], "invoice.payment_succeeded");
    // The same invoice, in the same (paid) state.
    const [a, b] = [held[paid]?.data.object, held[paid + 1]?.data.object];
    assert.ok(a && "status" in a && a.status === "paid");
    assert.deepEqual(a, b);
    await t.settle();
  });

  test("an endpoint that only sends invoice.payment_succeeded records the payment and one receipt; invoice.paid later adds nothing", async () => {
    const buyer = await t.signUp();
    const held = await subscribeHeld(buyer, 1100);
    const paid = held.filter((e) => e.type === "invoice.paid").map((e) => e.id);
    assert.equal(paid.length, 1);
    await t.emulator.deliver(held.map((e) => e.id).filter((id) => !paid.includes(id)));
    await t.settle();
    assert.deepEqual(await paymentsOf(buyer.userId), ["succeeded:1100"]);
    assert.equal((await receipts(buyer.userId)).length, 1);

    await t.emulator.deliver(paid);
    t.emulator.holdDeliveries(false);
    await t.settle();
    assert.deepEqual(await paymentsOf(buyer.userId), ["succeeded:1100"]);
    assert.equal((await receipts(buyer.userId)).length, 1);
    const [row] = await t.services.database.db
      .select()
      .from(stripeEvents)
      .where(eq(stripeEvents.id, paid[0] ?? ""));
    assert.equal(row?.status, "processed");
  });

  test("both events handled at the same time leave one payment and one receipt", async () => {
    const buyer = await t.signUp();
    const held = await subscribeHeld(buyer, 1300);
    const deps = billingDepsOf(t.services);
    const both = held.filter(
      (e) => e.type === "invoice.paid" || e.type === "invoice.payment_succeeded",
    );
    assert.equal(both.length, 2);
    // The subscription first, so that the payment has a user to belong to.
    const created = held.find((e) => e.type === "customer.subscription.created");
    assert.ok(created);
    await handleEvent(deps, created);
    const outcomes = await Promise.all(both.map((e) => handleEvent(deps, e)));
    assert.deepEqual(outcomes, ["processed", "processed"]);
    assert.deepEqual(await paymentsOf(buyer.userId), ["succeeded:1300"]);
    assert.equal((await receipts(buyer.userId)).length, 1);
    t.emulator.holdDeliveries(false);
    await t.settle();
    assert.deepEqual(await paymentsOf(buyer.userId), ["succeeded:1300"]);
    assert.equal((await receipts(buyer.userId)).length, 1);
  });
});

/** POSTs `charge` as a `charge.refunded` event signed with the endpoint's real secret. */
async function postSigned(charge: object): Promise<string> {
  const id = `evt_forged_${randomBytes(8).toString("hex")}`;
  const body = JSON.stringify({
    id,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    type: "charge.refunded",
    data: { object: charge },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
  });
  const res = await fetch(`${t.url}/api/webhooks/stripe/`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "stripe-signature": signPayload(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000)),
    },
    body,
  });
  assert.equal(res.status, 200);
  return id;
}

async function outcomeOf(eventId: string): Promise<string> {
  return waitFor(
    async () => {
      const [row] = await t.services.database.db
        .select()
        .from(stripeEvents)
        .where(eq(stripeEvents.id, eventId));
      return row && row.status !== "pending" && row.status;
    },
    { what: `event ${eventId} to be processed` },
  );
}

describe("charge.refunded", () => {
  test("a signed event naming another user's customer, metadata and payment records nothing for them, and the genuine refund is still recorded", async () => {
    const victim = await t.signUp();
    const owner = await t.signUp();
    const plan = await t.plan({ amount: 2000 });
    assert.equal((await t.subscribe(victim, plan.id)).status, 201);
    assert.equal((await t.subscribe(owner, plan.id)).status, 201);
    await t.settle();
    const [victimPaid] = await t.paymentsOf(victim.userId);
    const [ownerPaid] = await t.paymentsOf(owner.userId);
    assert.ok(victimPaid?.stripePaymentIntentId && ownerPaid?.stripeChargeId);
    const [victimCustomer] = (await t.stripe.customers.list({ email: victim.email })).data;
    assert.ok(victimCustomer);

    // The owner's genuine refund: its event is held, so the forged one arrives first.
    t.emulator.holdDeliveries(true);
    const refund = await t.stripe.refunds.create({ charge: ownerPaid.stripeChargeId, amount: 700 });
    const charge = await t.stripe.charges.retrieve(ownerPaid.stripeChargeId);
    const forged = {
      ...charge,
      payment_intent: victimPaid.stripePaymentIntentId,
      customer: victimCustomer.id,
      metadata: { user_id: victim.userId },
    };
    assert.equal(await outcomeOf(await postSigned(forged)), "processed");
    assert.deepEqual(await paymentsOf(victim.userId), ["succeeded:2000"]);
    // A charge Stripe has never heard of, in the victim's name.
    const unknown = { ...forged, id: `ch_forged_${randomBytes(8).toString("hex")}` };
    assert.equal(await outcomeOf(await postSigned(unknown)), "ignored");
    assert.deepEqual(await paymentsOf(victim.userId), ["succeeded:2000"]);

    t.emulator.holdDeliveries(false);
    await t.settle();
    assert.deepEqual(await paymentsOf(victim.userId), ["succeeded:2000"]);
    const ownerRows = await t.paymentsOf(owner.userId);
    assert.deepEqual(
      ownerRows.map((p) => `${p.status}:${p.amount}:${p.stripeRefundId ?? ""}`).sort(),
      [`refunded:700:${refund.id}`, "succeeded:2000:"],
    );
    const refunded = ownerRows.find((p) => p.status === "refunded");
    assert.equal(refunded?.stripePaymentIntentId, ownerPaid.stripePaymentIntentId);
    assert.equal(refunded?.stripeInvoiceId, ownerPaid.stripeInvoiceId);
  });
});
