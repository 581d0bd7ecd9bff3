import { accounts } from "./accounts/index.ts";
import { admin } from "./admin/index.ts";
import { adminConsole } from "./admin-console/index.ts";
import { audit } from "./audit/index.ts";
import { billing, handleStripeEvents, stripeWebhookSource } from "./billing/index.ts";
import { email } from "./platform/email/index.ts";
import type { Feature } from "./platform/feature.ts";
import { storefront } from "./storefront/index.ts";
import { webhooksFeature } from "./webhooks/index.ts";

/**
 * Every feature, in route registration order. app.ts, services.ts (jobs, retry policies, start-up
 * hooks), cli.ts (commands) and main.ts iterate this list; adding a feature adds one line here.
 * The webhook ledger takes Stripe's events at the route billing's source describes and runs
 * billing's handler on them.
 */
export const features: Feature[] = [
  accounts,
  billing,
  webhooksFeature(stripeWebhookSource, handleStripeEvents),
  email,
  storefront,
  audit,
  admin,
  adminConsole,
];
