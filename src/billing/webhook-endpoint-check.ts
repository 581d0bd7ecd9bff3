import Stripe from "stripe";
import type { Logger } from "../platform/logging.ts";
import type { StripeDeps } from "../platform/stripe.ts";
import { HANDLED_EVENT_TYPES } from "./stripe-events.ts";

/** Our intake route's path, as a Stripe endpoint's URL names it (with or without the slash). */
const INTAKE_PATH = /\/api\/webhooks\/stripe\/?$/;

/** The handled event types an endpoint does not send (`*` sends them all). */
export function missingEventTypes(enabled: readonly string[]): string[] {
  if (enabled.includes("*")) return [];
  return HANDLED_EVENT_TYPES.filter((type) => !enabled.includes(type));
}

/**
 * At start, with real Stripe (not the in-process emulator): warns about each webhook endpoint of
 * the account that points at `/api/webhooks/stripe/` but does not send every type this service
 * handles, naming the missing ones. An endpoint set up for the original service sends
 * `invoice.payment_succeeded` and not `invoice.paid`, which is fine; one missing
 * `charge.refunded` would silently record no refunds. Never rejects: a restricted key that may
 * not list endpoints, or Stripe out of reach, is only logged and start goes on.
 */
export async function checkWebhookEndpoints(deps: StripeDeps, logger: Logger): Promise<void> {
  if (deps.emulator) return;
  const ours: Stripe.WebhookEndpoint[] = [];
  try {
    for await (const endpoint of deps.stripe.webhookEndpoints.list({ limit: 100 })) {
      if (INTAKE_PATH.test(new URL(endpoint.url).pathname)) ours.push(endpoint);
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const level = err instanceof Stripe.errors.StripePermissionError ? "debug" : "info";
    logger[level]({ reason }, "Stripe webhook endpoints not checked: they could not be listed");
    return;
  }
  if (ours.length === 0) {
    // `stripe listen` forwards every event without any endpoint, so this is no warning.
    logger.info(
      { path: "/api/webhooks/stripe/" },
      "no Stripe webhook endpoint points at this service (fine with `stripe listen`)",
    );
    return;
  }
  const enabled = ours.filter((endpoint) => endpoint.status === "enabled");
  if (enabled.length === 0) {
    logger.warn(
      { endpoints: ours.map((endpoint) => endpoint.id) },
      "every Stripe webhook endpoint pointing at this service is disabled",
    );
  }
  for (const endpoint of enabled) {
    const missing = missingEventTypes(endpoint.enabled_events);
    if (missing.length === 0) continue;
    logger.warn(
      { endpoint: endpoint.id, url: endpoint.url, missing },
      `Stripe webhook endpoint does not send ${missing.join(", ")}: enable them (docs/operations.md)`,
    );
  }
}
