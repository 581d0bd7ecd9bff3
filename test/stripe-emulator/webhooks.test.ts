import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { type Harness, harness } from "./helpers.ts";

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
