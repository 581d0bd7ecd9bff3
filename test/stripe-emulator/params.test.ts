import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { type ContractTarget, contractTarget } from "./contract/target.ts";

/**
 * Parameters Stripe refuses are refused the same way: HTTP 400, `invalid_request_error`, the
 * code and `param` Stripe documents (https://docs.stripe.com/error-codes). Driven only through
 * the SDK (and plain HTTP for what the SDK's types forbid), so the same assertions hold against
 * Stripe's test mode.
 */
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

interface Refusal {
  status?: number;
  code?: string;
  param?: string;
  message?: string | RegExp;
}

async function refused(call: Promise<unknown>, expected: Refusal): Promise<void> {
  await assert.rejects(call, (err) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.statusCode, expected.status ?? 400);
    assert.equal(err.type, "StripeInvalidRequestError");
    assert.equal(err.rawType, "invalid_request_error");
    assert.equal(err.code, expected.code);
    if (expected.param !== undefined) assert.equal(err.param, expected.param);
    if (typeof expected.message === "string") assert.equal(err.message, expected.message);
    else if (expected.message) assert.match(err.message, expected.message);
    return true;
  });
}

/** The SDK's types reject unknown keys, so a caller that gets past them is modelled by a cast. */
function loose<T>(params: Record<string, unknown>): T {
  return params as T;
}

test("an unknown parameter is parameter_unknown naming it", async () => {
  const newest = async () => (await t.stripe.customers.list({ limit: 1 })).data[0]?.id;
  const before = await newest();
  await refused(
    t.stripe.customers.create(loose<Stripe.CustomerCreateParams>({ bogus_param: "x" })),
    {
      code: "parameter_unknown",
      param: "bogus_param",
      message: "Received unknown parameter: bogus_param",
    },
  );
  assert.equal(await newest(), before, "nothing was created");
});

test("an unknown nested parameter is named with its brackets", async () => {
  const customer = await t.stripe.customers.create({ email: "n@example.com" });
  await refused(
    t.stripe.customers.update(
      customer.id,
      loose<Stripe.CustomerUpdateParams>({ invoice_settings: { bogus: "x" } }),
    ),
    {
      code: "parameter_unknown",
      param: "invoice_settings[bogus]",
      message: "Received unknown parameter: invoice_settings[bogus]",
    },
  );
});

test("an unknown parameter inside a list item is named with its index", async () => {
  const customer = await t.stripe.customers.create({ email: "i@example.com" });
  await refused(
    t.stripe.subscriptions.create(
      loose<Stripe.SubscriptionCreateParams>({
        customer: customer.id,
        items: [{ price: "price_x", colour: "blue" }],
      }),
    ),
    { code: "parameter_unknown", param: "items[0][colour]" },
  );
});

test("an invalid enum value lists the accepted values", async () => {
  await refused(
    t.stripe.subscriptions.list(loose<Stripe.SubscriptionListParams>({ status: "bogus" })),
    {
      code: undefined,
      param: "status",
      message: /^Invalid status: must be one of active, .*trialing, or unpaid$/,
    },
  );
});

test("a value that is not an integer is parameter_invalid_integer", async () => {
  const product = await t.stripe.products.create({ name: "Pro" });
  await refused(
    t.stripe.prices.create(
      loose<Stripe.PriceCreateParams>({ product: product.id, currency: "usd", unit_amount: "ten" }),
    ),
    { code: "parameter_invalid_integer", param: "unit_amount", message: "Invalid integer: ten" },
  );
});

test("an invalid email is email_invalid", async () => {
  await refused(t.stripe.customers.create({ email: "not-an-email" }), {
    code: "email_invalid",
    param: "email",
    message: "Invalid email address: not-an-email",
  });
});

test("metadata keys are at most 40 characters", async () => {
  await refused(t.stripe.customers.create({ metadata: { ["k".repeat(41)]: "v" } }), {
    param: "metadata",
    message: /40 characters/,
  });
  const ok = await t.stripe.customers.create({ metadata: { ["k".repeat(40)]: "v" } });
  assert.equal(Object.keys(ok.metadata)[0]?.length, 40);
});

test("metadata values are at most 500 characters", async () => {
  await refused(t.stripe.customers.create({ metadata: { note: "v".repeat(501) } }), {
    param: "metadata",
    message: /500 characters/,
  });
  const ok = await t.stripe.customers.create({ metadata: { note: "v".repeat(500) } });
  assert.equal(ok.metadata.note?.length, 500);
});

test("metadata has at most 50 keys", async () => {
  const keys = (n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
  await refused(t.stripe.customers.create({ metadata: keys(51) }), {
    param: "metadata",
    message: /50/,
  });
  const ok = await t.stripe.customers.create({ metadata: keys(50) });
  assert.equal(Object.keys(ok.metadata).length, 50);
});

test("an empty string for a parameter that cannot be unset is parameter_invalid_empty", async () => {
  const customer = await t.stripe.customers.create({ email: "e@example.com" });
  await refused(
    t.stripe.subscriptions.create(
      loose<Stripe.SubscriptionCreateParams>({ customer: customer.id, trial_period_days: "" }),
    ),
    { code: "parameter_invalid_empty", param: "trial_period_days" },
  );
});

test("expanding a field that is not expandable is refused", async () => {
  const customer = await t.stripe.customers.create({ email: "x@example.com" });
  await refused(t.stripe.customers.retrieve(customer.id, { expand: ["email"] }), {
    param: "expand",
    message: "This property cannot be expanded (email).",
  });
  await refused(t.stripe.customers.list({ expand: ["email"] }), {
    message: /^This property cannot be expanded \(email\)\./,
  });
});

test("expanding an expandable field resolves it, nested and on lists", async () => {
  const product = await t.stripe.products.create({ name: "Pro" });
  const price = await t.stripe.prices.create({
    product: product.id,
    currency: "usd",
    unit_amount: 500,
    recurring: { interval: "month" },
  });
  const one = await t.stripe.prices.retrieve(price.id, { expand: ["product"] });
  assert.equal(typeof one.product === "object" && one.product.id, product.id);
  const list = await t.stripe.prices.list({ expand: ["data.product"] });
  assert.ok(list.data.every((p) => typeof p.product === "object"));
});

test("a parameter the endpoint does not take is refused even when another endpoint takes it", async () => {
  await refused(t.stripe.customers.list(loose<Stripe.CustomerListParams>({ status: "active" })), {
    code: "parameter_unknown",
    param: "status",
  });
});

test("well-formed calls still succeed: the validation refuses only what Stripe refuses", async () => {
  const customer = await t.stripe.customers.create({
    email: "ok@example.com",
    name: "Ok",
    metadata: { user_id: "u1" },
  });
  const updated = await t.stripe.customers.update(customer.id, {
    metadata: { user_id: "" },
    description: "",
  });
  assert.deepEqual(updated.metadata, {});
  const subs = await t.stripe.subscriptions.list({
    customer: customer.id,
    status: "all",
    limit: 3,
  });
  assert.equal(subs.data.length, 0);
});

test("a write with an expand path that cannot be expanded changes nothing", async () => {
  await refused(t.stripe.customers.create({ email: "w@example.com", expand: ["email"] }), {
    param: "expand",
    message: "This property cannot be expanded (email).",
  });
  assert.equal((await t.stripe.customers.list({ email: "w@example.com" })).data.length, 0);
});
