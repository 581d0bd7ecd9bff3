import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { startStripeEmulator } from "../../stripe-emulator/index.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { customerWithCard, monthlyPrice } from "./helpers.ts";

let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

/** Unique per run, so a Stripe account that keeps every earlier run's objects answers the same. */
const run = Math.random().toString(36).slice(2, 10);

test("the same Idempotency-Key and body replays the stored response", async () => {
  const email = `i-${run}@example.com`;
  const a = await t.stripe.customers.create({ email }, { idempotencyKey: `signup-1-${run}` });
  const b = await t.stripe.customers.create({ email }, { idempotencyKey: `signup-1-${run}` });
  assert.equal(a.id, b.id);
  assert.equal((await t.stripe.customers.list({ email })).data.length, 1);
});

test("the same Idempotency-Key with another body is a StripeIdempotencyError", async () => {
  await t.stripe.customers.create({ email: "x@example.com" }, { idempotencyKey: `k-2-${run}` });
  await assert.rejects(
    t.stripe.customers.create({ email: "y@example.com" }, { idempotencyKey: `k-2-${run}` }),
    Stripe.errors.StripeIdempotencyError,
  );
});

test("lists paginate newest first with has_more, starting_after and ending_before", async () => {
  // One email for the five, so the listing holds only this test's customers on any account.
  const email = `p-${run}@example.com`;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await t.stripe.customers.create({ email })).id);
  const first = await t.stripe.customers.list({ email, limit: 2 });
  assert.deepEqual(
    first.data.map((c) => c.id),
    [ids[4], ids[3]],
  );
  assert.equal(first.has_more, true);
  const second = await t.stripe.customers.list({ email, limit: 2, starting_after: ids[3] });
  assert.deepEqual(
    second.data.map((c) => c.id),
    [ids[2], ids[1]],
  );
  const back = await t.stripe.customers.list({ email, limit: 2, ending_before: ids[1] });
  assert.deepEqual(
    back.data.map((c) => c.id),
    [ids[3], ids[2]],
  );
  const all: string[] = [];
  for await (const c of t.stripe.customers.list({ email, limit: 2 })) all.push(c.id);
  assert.deepEqual(all, [...ids].reverse());
});

test("errors raise the SDK's error classes", async () => {
  await assert.rejects(t.stripe.customers.retrieve("cus_missing"), (err) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, "resource_missing");
    assert.equal(err.param, "id");
    return true;
  });
  await assert.rejects(
    t.stripe.prices.create({ currency: "usd", unit_amount: 100 }),
    Stripe.errors.StripeInvalidRequestError,
  );
  await assert.rejects(
    t.client("sk_live_nope").customers.list(),
    Stripe.errors.StripeAuthenticationError,
  );
  // Stripe serves quotes; the emulator does not, and answers its unrecognized-URL 404.
  if (t.name === "stripe") return;
  const res = await fetch(`${t.baseUrl}/v1/quotes`, {
    headers: { authorization: `Bearer ${t.apiKey}` },
  });
  assert.equal(res.status, 404);
  const body = (await res.json()) as { error: { type: string; message: string } };
  assert.equal(body.error.type, "invalid_request_error");
  assert.match(body.error.message, /\/v1\/quotes/);
});

test("plain HTTP takes the key as Bearer or as the Basic user name, like curl -u", async () => {
  const basic = `Basic ${Buffer.from(`${t.apiKey}:`).toString("base64")}`;
  for (const authorization of [`Bearer ${t.apiKey}`, basic]) {
    const res = await fetch(`${t.baseUrl}/v1/customers`, { headers: { authorization } });
    assert.equal(res.status, 200, authorization.slice(0, 6));
  }
  const none = await fetch(`${t.baseUrl}/v1/customers`);
  assert.equal(none.status, 401);
  const live = await fetch(`${t.baseUrl}/v1/customers`, {
    headers: { authorization: `Basic ${Buffer.from("sk_live_x:").toString("base64")}` },
  });
  assert.equal(live.status, 401);
});

test("customers: update default payment method and metadata, filter by email, delete", async () => {
  const { customer, pm } = await customerWithCard(t.stripe);
  const updated = await t.stripe.customers.update(customer.id, { metadata: { userId: "u1" } });
  assert.equal(updated.metadata.userId, "u1");
  assert.equal(updated.invoice_settings.default_payment_method, pm.id);
  const found = await t.stripe.customers.list({ email: customer.email ?? "" });
  assert.equal(found.data[0]?.id, customer.id);
  const pms = await t.stripe.paymentMethods.list({ customer: customer.id, type: "card" });
  assert.equal(pms.data[0]?.card?.last4, "4242");
  await t.stripe.customers.del(customer.id);
  const gone = await t.stripe.customers.retrieve(customer.id);
  assert.equal(gone.deleted, true);
});

test("prices: lookup_keys, active and type filters", async () => {
  const price = await monthlyPrice(t.stripe);
  const lookupKey = `pro_monthly_${run}`;
  await t.stripe.prices.update(price.id, { lookup_key: lookupKey });
  const byKey = await t.stripe.prices.list({
    lookup_keys: [lookupKey],
    expand: ["data.product"],
  });
  assert.equal(byKey.data[0]?.id, price.id);
  assert.equal((byKey.data[0]?.product as Stripe.Product | undefined)?.name, "Pro");
  await t.stripe.prices.update(price.id, { active: false });
  const active = await t.stripe.prices.list({
    active: true,
    type: "recurring",
    lookup_keys: [lookupKey],
  });
  assert.equal(active.data.length, 0);
});

test("events: retrieve and list by type and created", async () => {
  const customer = await t.stripe.customers.create({ email: "e@example.com" });
  // t.events lists by `type` and `created` (since the target opened), keeping this customer's.
  const list = await t.eventsAbout(customer.id, { type: "customer.created" });
  assert.equal(list.length, 1);
  const ev = await t.stripe.events.retrieve(list[0]?.id ?? "");
  assert.equal(ev.api_version, "2026-10-28.endive");
  assert.equal(
    (await t.eventsAbout(customer.id, { type: "invoice.*", until: () => true })).length,
    0,
  );
});

test(
  "state survives a restart through the snapshot file",
  emulatorOnly("the emulator's own snapshot"),
  async () => {
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
  },
);
