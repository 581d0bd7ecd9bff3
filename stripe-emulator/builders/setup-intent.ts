import type Stripe from "stripe";
import { newId } from "../ids.ts";

/**
 * One confirmation of a SetupIntent with one payment method (`setatt_…`), as
 * `setupAttempts.list({setup_intent})` shows it; the SetupIntent's `latest_attempt` names the
 * newest. It starts `requires_confirmation`; confirming the SetupIntent moves it on.
 */
export function buildSetupAttempt(
  si: Stripe.SetupIntent,
  pm: Stripe.PaymentMethod,
  created: number,
): Stripe.SetupAttempt {
  const card = pm.card;
  return {
    id: newId("setatt"),
    object: "setup_attempt",
    application: null,
    created,
    customer: typeof si.customer === "string" ? si.customer : null,
    customer_account: null,
    flow_directions: null,
    livemode: false,
    on_behalf_of: null,
    payment_method: pm.id,
    payment_method_details: card
      ? {
          type: "card",
          card: {
            brand: card.brand,
            checks: card.checks,
            country: card.country,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            fingerprint: card.fingerprint,
            funding: card.funding,
            last4: card.last4,
            network: card.brand,
            three_d_secure: null,
            wallet: null,
          },
        }
      : { type: pm.type },
    setup_error: null,
    setup_intent: si.id,
    status: "requires_confirmation",
    usage: si.usage,
  };
}
