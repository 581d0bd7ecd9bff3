import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type Stripe from "stripe";
import { type Harness, harness, monthlyPrice } from "./helpers.ts";

// The hosted pages are the customer's browser at Stripe: what they post must run the API's own
// code, so the SDK reads back the same objects and the receiver sees the same events.
let h: Harness;
let base: string;
before(async () => {
  h = await harness();
  base = `http://${h.emulator.host}:${h.emulator.port}`;
});
beforeEach(() => h.reset());
after(() => h.close());

const post = (path: string, form: Record<string, string>) =>
  fetch(`${base}${path}`, {
    method: "POST",
    body: new URLSearchParams(form),
    redirect: "manual",
  });

async function openSession(amount = 1500) {
  const price = await monthlyPrice(h.stripe, amount);
  const session = await h.stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: price.id, quantity: 1 }],
    customer_email: `c${Math.random()}@example.com`,
    success_url: "https://shop.example/ok?s={CHECKOUT_SESSION_ID}",
    cancel_url: "https://shop.example/no",
  });
  return { price, session };
}

const eventTypes = async () => {
  await h.emulator.idle();
  return h.receiver.received.map((r) => (JSON.parse(r.body) as Stripe.Event).type);
};

describe("hosted Checkout page", () => {
  test("lists the test cards and the total, escaped, and pays with the chosen card", async () => {
    const { session } = await openSession();
    const page = await (await fetch(`${base}/checkout/${session.id}`)).text();
    assert.match(page, /15\.00 USD/);
    assert.match(page, /value="pm_card_mastercard"/);
    assert.doesNotMatch(page, /<script/);
    const res = await post(`/checkout/${session.id}`, { payment_method: "pm_card_mastercard" });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), `https://shop.example/ok?s=${session.id}`);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ["subscription.default_payment_method"],
    });
    assert.equal(done.status, "complete");
    const sub = done.subscription as Stripe.Subscription;
    assert.equal(sub.status, "active");
    assert.equal((sub.default_payment_method as Stripe.PaymentMethod).card?.last4, "4444");
    assert.ok((await eventTypes()).includes("checkout.session.completed"));
  });

  test("a 3-D Secure card asks to authorize first; completing it pays, failing it leaves the session open", async () => {
    const { session } = await openSession();
    const pm = { payment_method: "pm_card_authenticationRequired" };
    const challenge = await post(`/checkout/${session.id}`, pm);
    assert.equal(challenge.status, 200);
    assert.match(await challenge.text(), /3D Secure/);
    assert.equal((await h.stripe.checkout.sessions.retrieve(session.id)).status, "open");
    const failed = await post(`/checkout/${session.id}/authorize`, { ...pm, outcome: "fail" });
    assert.equal(failed.status, 402);
    assert.match(await failed.text(), /unable to authenticate/);
    assert.equal((await h.stripe.checkout.sessions.retrieve(session.id)).status, "open");
    const ok = await post(`/checkout/${session.id}/authorize`, { ...pm, outcome: "complete" });
    assert.equal(ok.status, 303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ["subscription.latest_invoice"],
    });
    const sub = done.subscription as Stripe.Subscription;
    assert.equal(sub.status, "active");
    assert.equal((sub.latest_invoice as Stripe.Invoice).status, "paid");
    assert.equal(done.payment_status, "paid");
    const types = await eventTypes();
    assert.ok(types.includes("invoice.paid"));
    assert.ok(types.indexOf("checkout.session.completed") > types.indexOf("invoice.paid"));
  });

  test("a declined card shows Stripe's message and leaves the session open", async () => {
    const { session } = await openSession();
    const res = await post(`/checkout/${session.id}`, {
      payment_method: "pm_card_visa_chargeDeclined",
    });
    assert.equal(res.status, 402);
    assert.match(await res.text(), /class="error"/);
    assert.equal((await h.stripe.checkout.sessions.retrieve(session.id)).status, "open");
  });
});

async function paidSubscription() {
  const { price, session } = await openSession(1000);
  await post(`/checkout/${session.id}`, { payment_method: "pm_card_visa" });
  const done = await h.stripe.checkout.sessions.retrieve(session.id);
  const portal = await h.stripe.billingPortal.sessions.create({
    customer: String(done.customer),
    return_url: "https://shop.example/account",
  });
  return { price, subId: String(done.subscription), portal, customer: String(done.customer) };
}

describe("hosted Billing Portal page", () => {
  test("cancel at period end and renew run subscriptions.update, with its events", async () => {
    const { subId, portal } = await paidSubscription();
    const page = await (await fetch(portal.url)).text();
    assert.match(page, /Cancel plan/);
    assert.match(page, /https:\/\/shop\.example\/account/);
    const res = await post(`/portal/${portal.id}/cancel`, { subscription: subId });
    assert.equal(res.status, 303);
    assert.equal((await h.stripe.subscriptions.retrieve(subId)).cancel_at_period_end, true);
    assert.match(await (await fetch(portal.url)).text(), /Renew plan/);
    await post(`/portal/${portal.id}/renew`, { subscription: subId });
    assert.equal((await h.stripe.subscriptions.retrieve(subId)).cancel_at_period_end, false);
    const updates = (await eventTypes()).filter((t) => t === "customer.subscription.updated");
    assert.equal(updates.length, 2);
  });

  test("switching plan moves the item to the chosen price; a price not offered is refused", async () => {
    const { subId, portal } = await paidSubscription();
    const bigger = await monthlyPrice(h.stripe, 3000);
    assert.match(await (await fetch(portal.url)).text(), new RegExp(bigger.id));
    const refused = await post(`/portal/${portal.id}/switch`, {
      subscription: subId,
      price: "price_nope",
    });
    assert.equal(refused.status, 400);
    await post(`/portal/${portal.id}/switch`, { subscription: subId, price: bigger.id });
    const sub = await h.stripe.subscriptions.retrieve(subId);
    assert.equal(sub.items.data[0]?.price.id, bigger.id);
  });

  test("another customer's subscription cannot be acted on", async () => {
    const mine = await paidSubscription();
    const theirs = await paidSubscription();
    const res = await post(`/portal/${mine.portal.id}/cancel`, { subscription: theirs.subId });
    assert.equal(res.status, 400);
    assert.equal((await h.stripe.subscriptions.retrieve(theirs.subId)).cancel_at_period_end, false);
  });

  test("a new card becomes the default of the customer and the subscription", async () => {
    const { subId, portal, customer } = await paidSubscription();
    const res = await post(`/portal/${portal.id}/card`, { payment_method: "pm_card_amex" });
    assert.equal(res.status, 303);
    const c = await h.stripe.customers.retrieve(customer, {
      expand: ["invoice_settings.default_payment_method"],
    });
    assert.ok(!c.deleted);
    const pm = c.invoice_settings.default_payment_method as Stripe.PaymentMethod;
    assert.equal(pm.card?.last4, "8431");
    assert.equal((await h.stripe.subscriptions.retrieve(subId)).default_payment_method, pm.id);
    const declined = await post(`/portal/${portal.id}/card`, {
      payment_method: "pm_card_visa_chargeDeclined",
    });
    assert.equal(declined.status, 400);
  });
});

describe("hosted invoice page and PDF", () => {
  test("hosted_invoice_url shows the invoice; invoice_pdf is a PDF with its number", async () => {
    const { subId } = await paidSubscription();
    const sub = await h.stripe.subscriptions.retrieve(subId, { expand: ["latest_invoice"] });
    const inv = sub.latest_invoice as Stripe.Invoice;
    assert.ok(inv.hosted_invoice_url && inv.invoice_pdf);
    const page = await (await fetch(inv.hosted_invoice_url)).text();
    assert.match(page, /10\.00 USD/);
    const res = await fetch(inv.invoice_pdf);
    assert.equal(res.headers.get("content-type"), "application/pdf");
    const pdf = await res.text();
    assert.ok(pdf.startsWith("%PDF-1.4"));
    assert.ok(pdf.trimEnd().endsWith("%%EOF"));
    assert.ok(pdf.includes(String(inv.number)));
    const startxref = Number(/startxref\n(\d+)/.exec(pdf)?.[1]);
    assert.equal(pdf.slice(startxref, startxref + 4), "xref");
    assert.equal((await fetch(`${base}/invoices/in_nope/pdf`)).status, 404);
  });
});

describe("invoice lines", () => {
  test("a subscription line reads as Stripe words it: quantity, product, price per interval", async () => {
    const { subId } = await paidSubscription();
    const sub = await h.stripe.subscriptions.retrieve(subId, { expand: ["latest_invoice"] });
    const [line] = (sub.latest_invoice as Stripe.Invoice).lines.data;
    assert.equal(line?.description, "1 × Pro (at $10.00 / month)");
  });
});
