import Stripe from "stripe";
import { getUserById } from "../accounts/index.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { type CheckoutConfig, returnUrl } from "./checkout-service.ts";

/**
 * POST portal/: a Stripe Billing Portal session for the user's own customer. What the customer
 * does there (cancel, switch plan, change seats, update the card) reaches us as the same
 * subscription, invoice and payment events the API's own routes cause, and is handled by them
 * (docs/checkout-and-invoices.md). A user Stripe has never seen has no portal: a 404.
 */
export async function openPortal(
  deps: BillingDeps & { logger: Logger },
  config: CheckoutConfig,
  userId: string,
  input: { return_url?: string | undefined },
): Promise<{ url: string }> {
  const url = returnUrl(config, "return_url", input.return_url, (base) => `${base}/billing`);
  const user = await getUserById(deps.db, userId);
  if (!user?.stripeCustomerId) throw businessError("not_found", "No billing account yet.");
  try {
    const session = await deps.stripe.billingPortal.sessions.create({
      customer: user.stripeCustomerId,
      return_url: url,
    });
    return { url: session.url };
  } catch (err) {
    // Typically a portal never configured for this mode of the account (docs/operations.md).
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    deps.logger.error({ err, user: userId }, "billing portal session failed");
    throw businessError("invalid", "The billing portal could not be opened. Please try again.");
  }
}
