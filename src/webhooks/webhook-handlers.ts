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

/** The events of one type, as the SDK describes them. */
type EventOf<T extends Stripe.Event.Type> = Extract<Stripe.Event, { type: T }>;
type Handler<T extends Stripe.Event.Type> = (
  deps: BillingDeps,
  event: EventOf<T>,
) => Promise<Outcome>;
type HandlerTable = { [T in Stripe.Event.Type]?: Handler<T> };

/** Re-reads the subscription and writes it (`subscriptionToSync` names it). */
async function sync(
  deps: BillingDeps,
  event: EventOf<
    | "customer.subscription.created"
    | "customer.subscription.updated"
    | "customer.subscription.deleted"
  >,
): Promise<Outcome> {
  await syncSubscription(deps, event.data.object.id);
  return "processed";
}

/**
 * The invoice was paid: one `succeeded` row and one receipt per invoice, keyed by the invoice, so
 * `invoice.paid` and `invoice.payment_succeeded` (Stripe sends both for a charged invoice, in no
 * promised order; an endpoint may be subscribed to either) record it once between them.
 */
async function invoicePaid(
  deps: BillingDeps,
  event: EventOf<"invoice.paid" | "invoice.payment_succeeded">,
): Promise<Outcome> {
  if (!event.data.object.id) return "ignored";
  await recordInvoicePaid(deps, await invoiceFacts(deps, event.data.object.id));
  return "processed";
}

/**
 * What each event type does; a type not listed is answered `ignored`. Subscription events re-read
 * the subscription from Stripe instead of trusting the payload: whatever order events arrive in,
 * the projection ends at Stripe's current state, and the version marker refuses an older read
 * (DESIGN §4.1). Every other handler also takes only the object's id from the event and reads the
 * rest from Stripe, so a signed but forged body decides nothing; invoice and charge events record
 * facts that stay true (this invoice was paid; attempt N failed; this refund happened) under
 * unique keys. The webhook endpoint's `enabled_events` must cover these keys (HANDLED_EVENT_TYPES).
 */
const handlers: HandlerTable = {
  "customer.subscription.created": sync,
  "customer.subscription.updated": sync,
  "customer.subscription.deleted": sync,
  "customer.subscription.trial_will_end": async (deps, event) => {
    await recordTrialWillEnd(deps, event.data.object);
    return "processed";
  },
  "invoice.paid": invoicePaid,
  "invoice.payment_succeeded": invoicePaid,
  "invoice.payment_failed": async (deps, event) => {
    const inv = event.data.object;
    if (!inv.id) return "ignored";
    const at = { attempt: inv.attempt_count, created: event.created };
    await recordInvoiceFailed(deps, await invoiceFacts(deps, inv.id), at);
    return "processed";
  },
  "invoice.payment_action_required": async (deps, event) => {
    const inv = event.data.object;
    if (!inv.id) return "ignored";
    const at = { attempt: inv.attempt_count, created: event.created };
    await recordActionRequired(deps, await invoiceFacts(deps, inv.id), at);
    return "processed";
  },
  "charge.refunded": async (deps, event) => {
    const id: unknown = event.data.object.id;
    if (typeof id !== "string" || id === "") return "ignored";
    return (await recordRefunds(deps, id)) ? "processed" : "ignored";
  },
};

/** The event types this service acts on: what its Stripe webhook endpoint must send. */
export const HANDLED_EVENT_TYPES: readonly Stripe.Event.Type[] = Object.keys(
  handlers,
) as Stripe.Event.Type[];

/**
 * The subscription an event is handled by re-reading and writing (`syncSubscription`), and nothing
 * else; undefined for every other event. The worker reads such events' subscriptions in batches.
 */
export function subscriptionToSync(event: Stripe.Event): string | undefined {
  return handlers[event.type] === sync ? (event.data.object as { id: string }).id : undefined;
}

/** Runs the event's handler from the table. */
export async function handleEvent(deps: BillingDeps, event: Stripe.Event): Promise<Outcome> {
  // The table is keyed by type, so the handler found is the one for this event's own type.
  const handler = handlers[event.type] as Handler<Stripe.Event.Type> | undefined;
  return handler ? handler(deps, event) : "ignored";
}
