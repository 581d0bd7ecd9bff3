import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { billingDepsOf } from "../../src/billing/billing-deps.ts";
import { invoices } from "../../src/billing/hosted-tables.ts";
import { syncInvoice } from "../../src/billing/invoices-service.ts";
import { type BillingTestApp, DAY, startBillingApp } from "../helpers/billing.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

const get = (path: string, token: string) => t.http("GET", path, { token });

describe("invoices", () => {
  beforeEach(() => t.resetStripe());

  test("a subscriber's first invoice is listed from the webhooks, with its amounts, period and lines", async () => {
    const plan = await t.plan({ amount: 999 });
    const buyer = await t.signUp();
    const created = await t.subscribe(buyer, plan.id);
    assert.equal(created.status, 201);
    await t.settle();
    const sub = await t.stripe.subscriptions.retrieve(
      created.body.subscription.stripe_subscription_id,
    );
    const page = await get("/api/subscriptions/invoices/", buyer.token);
    assert.equal(page.status, 200);
    assert.equal(page.body.count, 1);
    assert.equal(page.body.next, null);
    const [inv] = page.body.results;
    const stripeInvoice = await t.stripe.invoices.retrieve(String(sub.latest_invoice));
    assert.equal(inv.id, stripeInvoice.id);
    assert.equal(inv.number, stripeInvoice.number);
    assert.ok(inv.number);
    assert.equal(inv.status, "paid");
    assert.equal(inv.billing_reason, "subscription_create");
    assert.deepEqual(
      [inv.total, inv.amount_due, inv.amount_paid, inv.amount_remaining, inv.currency],
      ["9.99", "9.99", "9.99", "0.00", "usd"],
    );
    const item = sub.items.data[0];
    assert.equal(
      inv.period_start,
      new Date((item?.current_period_start ?? 0) * 1000).toISOString(),
    );
    assert.equal(inv.period_end, new Date((item?.current_period_end ?? 0) * 1000).toISOString());
    assert.equal(inv.lines.length, 1);
    assert.equal(inv.lines[0].amount, "9.99");
    assert.equal(inv.lines[0].quantity, 1);
    assert.equal(inv.hosted_invoice_url, stripeInvoice.hosted_invoice_url);
    assert.equal(inv.invoice_pdf, stripeInvoice.invoice_pdf);
    assert.ok(inv.invoice_pdf);

    const one = await get(`/api/subscriptions/invoices/${inv.id}/`, buyer.token);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, inv);
    const past = await get("/api/subscriptions/invoices/?page=2", buyer.token);
    assert.equal(past.status, 404);
    assert.deepEqual(past.body, { detail: "Invalid page." });
  });

  test("another user's invoice is a 404, as an unknown one; a user without invoices has none", async () => {
    const plan = await t.plan();
    const owner = await t.signUp();
    const stranger = await t.signUp();
    await t.subscribe(owner, plan.id);
    await t.settle();
    const [inv] = (await get("/api/subscriptions/invoices/", owner.token)).body.results;
    const theirs = await get(`/api/subscriptions/invoices/${inv.id}/`, stranger.token);
    assert.equal(theirs.status, 404);
    assert.deepEqual(theirs.body, { error: "Invoice not found." });
    const unknown = await get("/api/subscriptions/invoices/in_nope/", stranger.token);
    assert.deepEqual([unknown.status, unknown.body], [404, { error: "Invoice not found." }]);
    const list = await get("/api/subscriptions/invoices/", stranger.token);
    assert.deepEqual(list.body, { count: 0, next: null, previous: null, results: [] });
    const anonymous = await t.http("GET", `/api/subscriptions/invoices/${inv.id}/`);
    assert.equal(anonymous.status, 401);
  });

  test("a renewal's invoice comes first; the upcoming one previews the next period", async () => {
    const plan = await t.plan({ amount: 1250 });
    const buyer = await t.signUp();
    await t.subscribe(buyer, plan.id);
    await t.settle();
    await t.advance(31 * DAY + 2 * 3600);
    const page = await get("/api/subscriptions/invoices/", buyer.token);
    assert.deepEqual(
      page.body.results.map((i: { billing_reason: string; status: string }) => [
        i.billing_reason,
        i.status,
      ]),
      [
        ["subscription_cycle", "paid"],
        ["subscription_create", "paid"],
      ],
    );
    const status = await get("/api/subscriptions/status/", buyer.token);
    const upcoming = await get("/api/subscriptions/invoices/upcoming/", buyer.token);
    assert.equal(upcoming.status, 200, JSON.stringify(upcoming.body));
    assert.equal(upcoming.body.amount_due, "12.50");
    assert.equal(upcoming.body.currency, "usd");
    assert.equal(upcoming.body.period_start, status.body.current_period_end);
    const invoicesBefore = (await t.stripe.invoices.list({ limit: 100 })).data.length;
    await get("/api/subscriptions/invoices/upcoming/", buyer.token);
    assert.equal((await t.stripe.invoices.list({ limit: 100 })).data.length, invoicesBefore);
  });

  test("no upcoming invoice without a subscription, nor for one ending at its period end", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    const none = await get("/api/subscriptions/invoices/upcoming/", buyer.token);
    assert.deepEqual([none.status, none.body], [404, { error: "No upcoming invoice." }]);
    await t.subscribe(buyer, plan.id);
    await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    const ending = await get("/api/subscriptions/invoices/upcoming/", buyer.token);
    assert.deepEqual([ending.status, ending.body], [404, { error: "No upcoming invoice." }]);
  });

  test("the invoice events in reverse order still end at Stripe's state: paid", async () => {
    const plan = await t.plan({ amount: 800 });
    const buyer = await t.signUp();
    t.emulator.holdDeliveries(true);
    let ids: string[] = [];
    try {
      const before = new Set(t.emulator.heldEvents());
      await t.subscribe(buyer, plan.id);
      ids = t.emulator.heldEvents().filter((id) => !before.has(id));
      await t.emulator.deliver([...ids].reverse());
      await t.settle();
    } finally {
      t.emulator.holdDeliveries(false);
    }
    await t.settle();
    const types = await Promise.all(
      ids.map(async (id) => (await t.stripe.events.retrieve(id)).type),
    );
    assert.ok(types.includes("invoice.created") && types.includes("invoice.finalized"));
    assert.ok(types.indexOf("invoice.created") < types.indexOf("invoice.paid"));
    const page = await get("/api/subscriptions/invoices/", buyer.token);
    assert.deepEqual(
      page.body.results.map((i: { status: string; amount_paid: string }) => [
        i.status,
        i.amount_paid,
      ]),
      [["paid", "8.00"]],
    );
  });

  test("a read older than the stored row's is refused (the version marker)", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    await t.subscribe(buyer, plan.id);
    await t.settle();
    const [inv] = (await get("/api/subscriptions/invoices/", buyer.token)).body.results;
    const { db } = t.services.database;
    // As if a read that started later had found the invoice open.
    const later = new Date(Date.now() + DAY * 1000);
    await db
      .update(invoices)
      .set({ status: "open", stripeSyncedAt: later })
      .where(eq(invoices.stripeInvoiceId, inv.id));
    assert.equal(await syncInvoice(billingDepsOf(t.services), inv.id), true);
    const [row] = await db.select().from(invoices).where(eq(invoices.stripeInvoiceId, inv.id));
    assert.equal(row?.status, "open");
    await db
      .update(invoices)
      .set({ stripeSyncedAt: new Date(0) })
      .where(eq(invoices.stripeInvoiceId, inv.id));
    await syncInvoice(billingDepsOf(t.services), inv.id);
    const [again] = await db.select().from(invoices).where(eq(invoices.stripeInvoiceId, inv.id));
    assert.equal(again?.status, "paid");
  });
});
