import assert from "node:assert/strict";
import Stripe from "stripe";

/** The error a call that Stripe must refuse fails with; a call that succeeds fails the test. */
export async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const err = await call.then(
    () => assert.fail("Stripe accepted it"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Stripe.errors.StripeError, String(err));
  return err;
}
