import { accounts } from "./accounts/index.ts";
import { billing, handleStripeEvents } from "./billing/index.ts";
import { email } from "./platform/email/index.ts";
import type { Feature } from "./platform/feature.ts";
import { webhooksFeature } from "./webhooks/index.ts";

/**
 * Every feature, in route registration order. app.ts, services.ts (jobs, retry policies, start-up
 * hooks), cli.ts (commands) and main.ts iterate this list; adding a feature adds one line here.
 * The webhook ledger runs billing's Stripe event handler.
 */
export const features: Feature[] = [accounts, billing, webhooksFeature(handleStripeEvents), email];
