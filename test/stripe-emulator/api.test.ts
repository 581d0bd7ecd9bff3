import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { startStripeEmulator } from "../../stripe-emulator/index.ts";
import { customerWithCard, type Harness, harness, monthlyPrice } from "./helpers.ts";

let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

test("the same Idempotency-Key and body replays the stored response", async () => {
  const a = await h.stripe.customers.create(
    { email: "i@example.com" },
    { idempotencyKey: "signup-1" },
  );
  const b = await h.stripe.customers.create(
    { email: "i@example.com" },
    { idempotencyKey: "signup-1" },
  );
  assert.equal(a.id, b.id);
  assert.equal((await h.stripe.customers.list({ email: "i@example.com" })).data.length, 1);
});

test("the same Idempotency-Key with another body is a StripeIdempotencyError", async () => {
  await h.stripe.customers.create({ email: "x@example.com" }, { idempotencyKey: "k-2" });
  await assert.rejects(
    h.stripe.customers.create({ email: "y@example.com" }, { idempotencyKey: "k-2" }),
    Stripe.errors.StripeIdempotencyError,
  );
});

test("lists paginate newest first with has_more, starting_after and ending_before", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++)
    ids.push((await h.stripe.customers.create({ email: `p${i}@example.com` })).id);
  const first = await h.stripe.customers.list({ limit: 2 });
  assert.deepEqual(
    first.data.map((c) => c.id),
    [ids[4], ids[3]],
  );
  assert.equal(first.has_more, true);
  const second = await h.stripe.customers.list({ limit: 2, starting_after: ids[3] });
  assert.deepEqual(
    second.data.map((c) => c.id),
    [ids[2], ids[1]],
  );
  const back = await h.stripe.customers.list({ limit: 2, ending_before: ids[1] });
  assert.deepEqual(
    back.data.map((c) => c.id),
    [ids[3], ids[2]],
  );
  const all: string[] = [];
  for await (const c of h.stripe.customers.list({ limit: 2 })) all.push(c.id);
  assert.deepEqual(all, [...ids].reverse());
});

test("errors raise the SDK's error classes", async () => {
  await assert.rejects(h.stripe.customers.retrieve("cus_missing"), (err) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, "resource_missing");
    assert.equal(err.param, "id");
    return true;
  });
  await assert.rejects(
    h.stripe.prices.create({ currency: "usd", unit_amount: 100 }),
    Stripe.errors.StripeInvalidRequestError,
  );
  const bad = new Stripe("sk_live_nope", {
    host: h.emulator.host,
    port: h.emulator.port,
    protocol: "http",
    maxNetworkRetries: 0,
  });
  await assert.rejects(bad.customers.list(), Stripe.errors.StripeAuthenticationError);
  const res = await fetch(`${h.emulator.url}/v1/quotes`, {
    headers: { authorization: "Bearer sk_test_x" },
  });
  assert.equal(res.status, 404);
  const body = (await res.json()) as { error: { type: string; message: string } };
  assert.equal(body.error.type, "invalid_request_error");
  assert.match(body.error.message, /\/v1\/quotes/);
});

test("plain HTTP takes the key as Bearer or as the Basic user name, like curl -u", async () => {
  const basic = `Basic ${Buffer.from("sk_test_x:").toString("base64")}`;
  for (const authorization of ["Bearer sk_test_x", basic]) {
    const res = await fetch(`${h.emulator.url}/v1/customers`, { headers: { authorization } });
    assert.equal(res.status, 200, authorization);
  }
  const none = await fetch(`${h.emulator.url}/v1/customers`);
  assert.equal(none.status, 401);
  const live = await fetch(`${h.emulator.url}/v1/customers`, {
    headers: { authorization: `Basic ${Buffer.from("sk_live_x:").toString("base64")}` },
  });
  assert.equal(live.status, 401);
});

test("customers: update default payment method and metadata, filter by email, delete", async () => {
  const { customer, pm } = await customerWithCard(h.stripe);
  const updated = await h.stripe.customers.update(customer.id, { metadata: { userId: "u1" } });
  assert.equal(updated.metadata.userId, "u1");
  assert.equal(updated.invoice_settings.default_payment_method, pm.id);
  const found = await h.stripe.customers.list({ email: customer.email ?? "" });
  assert.equal(found.data[0]?.id, customer.id);
  const pms = await h.stripe.paymentMethods.list({ customer: customer.id, type: "card" });
  assert.equal(pms.data[0]?.card?.last4, "4242");
  await h.stripe.customers.del(customer.id);
  const gone = await h.stripe.customers.retrieve(customer.id);
  assert.equal(gone.deleted, true);
});

test("prices: lookup_keys, active and type filters", async () => {
  const price = await monthlyPrice(h.stripe);
  await h.stripe.prices.update(price.id, { lookup_key: "pro_monthly" });
  const byKey = await h.stripe.prices.list({
    lookup_keys: ["pro_monthly"],
    expand: ["data.product"],
  });
  assert.equal(byKey.data[0]?.id, price.id);
  assert.equal((byKey.data[0]?.product as Stripe.Product | undefined)?.name, "Pro");
  await h.stripe.prices.update(price.id, { active: false });
  assert.equal((await h.stripe.prices.list({ active: true, type: "recurring" })).data.length, 0);
});

test("events: retrieve and list by type and created", async () => {
  await h.stripe.customers.create({ email: "e@example.com" });
  const list = await h.stripe.events.list({ type: "customer.created", created: { gte: 0 } });
  assert.equal(list.data.length, 1);
  const ev = await h.stripe.events.retrieve(list.data[0]?.id ?? "");
  assert.equal(ev.api_version, "2026-10-28.endive");
  assert.equal((await h.stripe.events.list({ type: "invoice.*" })).data.length, 0);
});

test("state survives a restart through the snapshot file", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "stripe-emu-")), "state.json");
  const first = await startStripeEmulator({ snapshotFile: file });
  const s1 = new Stripe("sk_test_x", { host: first.host, port: first.port, protocol: "http" });
  const c = await s1.customers.create({ email: "snap@example.com" });
  await first.advanceTime(3600);
  await first.close();
  const second = await startStripeEmulator({ snapshotFile: file });
  const s2 = new Stripe("sk_test_x", { host: second.host, port: second.port, protocol: "http" });
  assert.equal((await s2.customers.retrieve(c.id)).id, c.id);
  await second.close();
});
