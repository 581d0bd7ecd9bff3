import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { type Harness, harness, Receiver, subscribed } from "./helpers.ts";

let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

test("deliveries are signed so constructEvent accepts them with the endpoint secret", async () => {
  await h.stripe.customers.create({ email: "w@example.com" });
  await h.emulator.idle();
  const [delivery] = h.receiver.received;
  assert.ok(delivery);
  const secret = h.emulator.webhookSecrets[0] ?? "";
  assert.match(secret, /^whsec_/);
  const event = h.stripe.webhooks.constructEvent(delivery.body, delivery.signature, secret);
  assert.equal(event.type, "customer.created");
  assert.throws(
    () => h.stripe.webhooks.constructEvent(delivery.body, delivery.signature, "whsec_wrong"),
    Stripe.errors.StripeSignatureVerificationError,
  );
});

test("a failed delivery is retried with backoff until it succeeds", async () => {
  h.receiver.status = (n) => (n < 3 ? 500 : 200);
  await h.stripe.customers.create({ email: "r@example.com" });
  await h.emulator.idle();
  const ids = h.receiver.events().map((e) => e.id);
  assert.equal(ids.length, 3);
  assert.equal(new Set(ids).size, 1);
});

test("held events are delivered in the order asked, and can be delivered again", async () => {
  h.emulator.holdDeliveries(true);
  const c = await h.stripe.customers.create({ email: "h@example.com" });
  await h.stripe.customers.update(c.id, { name: "Held" });
  const held = h.emulator.heldEvents();
  assert.equal(held.length, 2);
  assert.equal(h.receiver.received.length, 0);
  await h.emulator.deliver([...held].reverse());
  assert.deepEqual(h.receiver.types(), ["customer.updated", "customer.created"]);
  const updated = h.receiver.events()[0];
  assert.deepEqual(updated?.data.previous_attributes, { name: null });
  await h.emulator.redeliver(held[0] ?? "");
  assert.equal(h.receiver.received.length, 3);
  h.emulator.holdDeliveries(false);
});

test("the HTTP controls hold, list, deliver and advance", async () => {
  const post = (path: string, body: unknown) =>
    fetch(`${h.emulator.url}/_emulator/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  await post("hold", { hold: true });
  await h.stripe.customers.create({ email: "c@example.com" });
  const held = (await (await fetch(`${h.emulator.url}/_emulator/held`)).json()) as {
    event_ids: string[];
  };
  assert.equal(held.event_ids.length, 1);
  await post("deliver", { event_ids: held.event_ids });
  assert.equal(h.receiver.received.length, 1);
  await post("hold", { hold: false });
  const before = (await (await fetch(`${h.emulator.url}/_emulator/now`)).json()) as { now: number };
  const res = await post("advance", { seconds: 86_400 });
  const after = (await res.json()) as { now: number };
  assert.ok(after.now - before.now >= 86_400);
});

test("webhook endpoints can be created, listed and deleted through the API", async () => {
  const ep = await h.stripe.webhookEndpoints.create({
    url: "http://127.0.0.1:9/none",
    enabled_events: ["invoice.paid"],
  });
  assert.match(ep.secret ?? "", /^whsec_/);
  assert.equal((await h.stripe.webhookEndpoints.list()).data.length, 2);
  await h.stripe.webhookEndpoints.del(ep.id);
  assert.equal((await h.stripe.webhookEndpoints.list()).data.length, 1);
});

test("webhook endpoints keep their enabled_events, which can be updated, and refuse what Stripe refuses", async () => {
  const url = "http://127.0.0.1:9/events";
  const ep = await h.stripe.webhookEndpoints.create({
    url,
    enabled_events: ["invoice.paid", "charge.refunded"],
  });
  const listed = (await h.stripe.webhookEndpoints.list()).data.find((e) => e.id === ep.id);
  assert.deepEqual(listed?.enabled_events, ["invoice.paid", "charge.refunded"]);
  assert.equal(listed?.status, "enabled");
  assert.equal(listed?.secret, undefined);
  const updated = await h.stripe.webhookEndpoints.update(ep.id, {
    enabled_events: ["*"],
    disabled: true,
  });
  assert.deepEqual(updated.enabled_events, ["*"]);
  assert.equal(updated.status, "disabled");
  assert.deepEqual((await h.stripe.webhookEndpoints.retrieve(ep.id)).enabled_events, ["*"]);

  const refused = async (params: Record<string, unknown>, param: string) => {
    const err = await h.stripe.webhookEndpoints
      .create(params as unknown as Stripe.WebhookEndpointCreateParams)
      .catch((e: unknown) => e);
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.param, param);
  };
  await refused({ url }, "enabled_events");
  await refused({ url, enabled_events: [] }, "enabled_events");
  await refused({ url, enabled_events: ["invoice.paid", "invoice.payed"] }, "enabled_events[1]");
  await refused({ enabled_events: ["*"] }, "url");
  await refused({ url: "not a url", enabled_events: ["*"] }, "url");
  const badUpdate = await h.stripe.webhookEndpoints
    .update(ep.id, { enabled_events: ["no.such_event"] as unknown as ["*"] })
    .catch((e: unknown) => e);
  assert.ok(badUpdate instanceof Stripe.errors.StripeInvalidRequestError);
  assert.deepEqual((await h.stripe.webhookEndpoints.retrieve(ep.id)).enabled_events, ["*"]);
});

test("an endpoint gets only the events it enabled, and none while disabled", async () => {
  const other = new Receiver();
  await other.start();
  try {
    const ep = await h.stripe.webhookEndpoints.create({
      url: other.url,
      enabled_events: ["customer.updated"],
    });
    const c = await h.stripe.customers.create({ email: "only@example.com" });
    await h.stripe.customers.update(c.id, { name: "Only" });
    await h.emulator.idle();
    assert.deepEqual(other.types(), ["customer.updated"]);
    await h.stripe.webhookEndpoints.update(ep.id, { disabled: true });
    await h.stripe.customers.update(c.id, { name: "Quiet" });
    await h.emulator.idle();
    assert.deepEqual(other.types(), ["customer.updated"]);
  } finally {
    await other.close();
  }
});

test("a paid invoice sends invoice.paid then invoice.payment_succeeded; one paid out of band only invoice.paid", async () => {
  const { customer, price, sub: charged } = await subscribed(h.stripe, { amount: 500 });
  await h.emulator.idle();
  const invoiceEvents = (invoiceId: unknown) =>
    h.receiver
      .events()
      .filter((e) => e.type.startsWith("invoice.") && "id" in e.data.object)
      .filter((e) => (e.data.object as { id?: string }).id === invoiceId)
      .map((e) => e.type);
  const chargedTypes = invoiceEvents(charged.latest_invoice);
  assert.deepEqual(chargedTypes.slice(-2), ["invoice.paid", "invoice.payment_succeeded"]);

  const outOfBand = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    payment_behavior: "default_incomplete",
  });
  const invoiceId = String(outOfBand.latest_invoice);
  await h.stripe.invoices.pay(invoiceId, { paid_out_of_band: true });
  await h.emulator.idle();
  const types = invoiceEvents(invoiceId);
  assert.ok(types.includes("invoice.paid"), types.join(", "));
  assert.ok(!types.includes("invoice.payment_succeeded"), types.join(", "));
});
