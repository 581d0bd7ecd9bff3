import type Stripe from "stripe";
import {
  invoiceFacts,
  recordActionRequired,
  recordInvoiceFailed,
  recordInvoicePaid,
  recordRefunds,
} from "../billing/payments-service.ts";
import { type BillingDeps, recordTrialWillEnd, syncSubscription } from "../billing/sync-service.ts";

export type Outcome = "processed" | "ignored";

/**
 * The subscription an event is handled by re-reading and writing (`syncSubscription`), and nothing
 * else; undefined for every other event. The worker reads such events' subscriptions in batches.
 */
export function subscriptionToSync(event: Stripe.Event): string | undefined {
  switch (event.type) {
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
      return event.data.object.id;
    default:
      return undefined;
  }
}

/**
 * What each event type does. Subscription events re-read the subscription from Stripe instead of
 * trusting the payload: whatever order events arrive in, the projection ends at Stripe's current
 * state, and the version marker refuses an older read (DESIGN §4.1). Invoice events record facts
 * that stay true (this invoice was paid; attempt N failed) under unique keys.
 */
export async function handleEvent(deps: BillingDeps, event: Stripe.Event): Promise<Outcome> {
  const subscriptionId = subscriptionToSync(event);
  if (subscriptionId !== undefined) {
    await syncSubscription(deps, subscriptionId);
    return "processed";
  }
  switch (event.type) {
    case "customer.subscription.trial_will_end":
      await recordTrialWillEnd(deps, event.data.object);
      return "processed";
    case "invoice.paid":
      if (!event.data.object.id) return "ignored";
      await recordInvoicePaid(deps, await invoiceFacts(deps, event.data.object.id));
      return "processed";
    case "invoice.payment_failed": {
      const inv = event.data.object;
      if (!inv.id) return "ignored";
      const at = { attempt: inv.attempt_count, created: event.created };
      await recordInvoiceFailed(deps, await invoiceFacts(deps, inv.id), at);
      return "processed";
    }
    case "invoice.payment_action_required": {
      const inv = event.data.object;
      if (!inv.id) return "ignored";
      const at = { attempt: inv.attempt_count, created: event.created };
      await recordActionRequired(deps, await invoiceFacts(deps, inv.id), at);
      return "processed";
    }
    case "charge.refunded":
      await recordRefunds(deps, event.data.object);
      return "processed";
    default:
      // `invoice.payment_succeeded` lands here on purpose: `invoice.paid` records every payment
      // (out-of-band ones too), so only one of the two may write.
      return "ignored";
  }
}
