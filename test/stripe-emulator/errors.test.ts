import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Stripe from "stripe";
import { createFaults } from "../../stripe-emulator/faults.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { customerWithCard, monthlyPrice } from "./helpers.ts";

/**
 * Error bodies as Stripe sends them (https://docs.stripe.com/api/errors): codes from Stripe's
 * list, `doc_url` for a coded error, `request_log_url` for an authenticated request, 401 for a
 * malformed key, Stripe's 404 for an unknown path, 409 `idempotency_key_in_use` for a key whose
 * first request is still running.
 */
const faults = createFaults();
let t: ContractTarget;
before(async () => {
  t = await contractTarget({ stages: [faults.stage] });
});
beforeEach(async () => {
  faults.clear();
  await t.reset();
});
after(() => t.close());

interface ErrorBody {
  error: {
    type: string;
    code?: string;
    param?: string;
    message: string;
    doc_url?: string;
    request_log_url?: string;
  };
}

async function call(path: string, init: RequestInit = {}, key = t.apiKey) {
  const res = await fetch(`${t.baseUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as ErrorBody };
}

test("a coded error carries doc_url for its code and the request's request_log_url", async () => {
  const { status, body } = await call("/v1/customers/cus_missing");
  assert.equal(status, 404);
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(body.error.code, "resource_missing");
  assert.equal(body.error.param, "id");
  assert.equal(body.error.message, "No such customer: 'cus_missing'");
  assert.equal(body.error.doc_url, "https://stripe.com/docs/error-codes/resource-missing");
  assert.match(
    body.error.request_log_url ?? "",
    /^https:\/\/dashboard\.stripe\.com\/test\/logs\/req_\w+/,
  );
});

test("the SDK sees doc_url and the code on a parameter error", async () => {
  await assert.rejects(
    t.stripe.customers.create({ email: "nope" }),
    (err: unknown) =>
      err instanceof Stripe.errors.StripeInvalidRequestError &&
      err.code === "email_invalid" &&
      err.doc_url === "https://stripe.com/docs/error-codes/email-invalid",
  );
});

test("a key with nothing after sk_test_ is refused with 401 and no code", async () => {
  const { status, body } = await call("/v1/customers", {}, "sk_test_");
  assert.equal(status, 401);
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(body.error.code, undefined);
  assert.equal(body.error.message, "Invalid API Key provided: sk_test_");
  assert.equal(body.error.request_log_url, undefined, "no account, so no request log");
  await assert.rejects(
    t.client("sk_test_").customers.list(),
    Stripe.errors.StripeAuthenticationError,
  );
});

test("an unknown path answers Stripe's unrecognized-URL 404", async () => {
  const { status, body } = await call("/v1/no_such_things");
  assert.equal(status, 404);
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(body.error.code, undefined);
  assert.match(body.error.message, /^Unrecognized request URL \(GET: \/v1\/no_such_things\)\. /);
});

// Emulator-specific: Stripe serves search; the emulator does not, and says so as Stripe does
// for a path it does not serve rather than looking up a customer called "search".
test(
  "search endpoints are unrecognized URLs, not a missing object named 'search'",
  emulatorOnly("Stripe serves search"),
  async () => {
    for (const resource of ["customers", "subscriptions", "invoices", "prices", "products"]) {
      const { status, body } = await call(
        `/v1/${resource}/search?query=${encodeURIComponent("metadata['a']:'b'")}`,
      );
      assert.equal(status, 404, resource);
      assert.equal(body.error.code, undefined, resource);
      assert.equal(
        body.error.message.startsWith(`Unrecognized request URL (GET: /v1/${resource}/search)`),
        true,
        body.error.message,
      );
    }
    await assert.rejects(
      t.stripe.customers.search({ query: "email:'a@example.com'" }),
      (err: unknown) =>
        err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode === 404,
    );
  },
);

test(
  "a second request with an Idempotency-Key still in flight gets 409 idempotency_key_in_use",
  emulatorOnly("holding Stripe's first request in flight needs the emulator's fault injection"),
  async () => {
    // The first request is held in flight by an injected delay (a slow Stripe).
    faults.inject({ method: "POST", path: /^\/v1\/customers$/, fault: "delay", delayMs: 400 });
    const first = t.stripe.customers.create(
      { email: "slow@example.com" },
      { idempotencyKey: "dup-1" },
    );
    await until(() => faults.calls.some((c) => c.fault === "delay"));
    await assert.rejects(
      t.stripe.customers.create({ email: "slow@example.com" }, { idempotencyKey: "dup-1" }),
      (err: unknown) => {
        // stripe-node maps a 409 to StripeAPIError (and retries it when retries are on).
        assert.ok(err instanceof Stripe.errors.StripeAPIError, String(err));
        assert.equal(err.statusCode, 409);
        assert.equal(err.code, "idempotency_key_in_use");
        assert.equal(err.rawType, "idempotency_error");
        return true;
      },
    );
    const created = await first;
    const replay = await t.stripe.customers.create(
      { email: "slow@example.com" },
      { idempotencyKey: "dup-1" },
    );
    assert.equal(replay.id, created.id, "once the first finished, the key replays its response");
    assert.equal((await t.stripe.customers.list({ email: "slow@example.com" })).data.length, 1);
  },
);

test("a first payment needing authentication under error_if_incomplete is a 402 invoice_payment_intent_requires_action", async () => {
  const { customer } = await customerWithCard(t.stripe, "pm_card_authenticationRequired");
  const price = await monthlyPrice(t.stripe);
  await assert.rejects(
    t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      payment_behavior: "error_if_incomplete",
    }),
    (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeCardError, String(err));
      assert.equal(err.statusCode, 402);
      assert.equal(err.code, "invoice_payment_intent_requires_action");
      assert.equal(
        err.doc_url,
        "https://stripe.com/docs/error-codes/invoice-payment-intent-requires-action",
      );
      return true;
    },
  );
});

/** A bounded poll: resolves when `ready()` holds, fails after two seconds. */
async function until(ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setImmediate(resolve));
  }
}
