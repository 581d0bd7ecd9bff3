import { eq } from "drizzle-orm";
import pLimit from "p-limit";
import type Stripe from "stripe";
import { type AuditContext, actorOr, withDefaultActor } from "../audit/index.ts";
import type { Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import type { Logger } from "../platform/logging.ts";
import type { Batch, HandlerResult, LedgerEvent, Outcome } from "../webhooks/index.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { trialEndingEmail } from "./billing-emails.ts";
import { plans } from "./billing-tables.ts";
import { checkoutCompleted, checkoutExpired, linkOwnerThroughCheckout } from "./checkout-events.ts";
import { syncInvoice, writeInvoice } from "./invoices-service.ts";
import {
  type InvoiceFacts,
  invoiceFacts,
  recordActionRequired,
  recordInvoiceFailed,
  recordInvoicePaid,
  recordRefunds,
} from "./payments-service.ts";
import { DISCOUNT_EXPAND } from "./subscription-discounts.ts";
import { queueCancellationEmails } from "./subscription-emails.ts";
import {
  type Applied,
  applySubscriptions,
  dbClock,
  fetchSubscription,
  RetryLater,
  type Snapshot,
} from "./subscription-projection.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";
import { trialEndingWithoutCardEmail } from "./trials.ts";

// What each Stripe event means to billing. The webhook ledger (src/webhooks/) stores, retries and
// replays events; it hands them here, to `handleEvents`, in batches (the worker) or one at a time
// (a replay).

/** The events of one type, as the SDK describes them. */
type EventOf<T extends Stripe.Event.Type> = Extract<Stripe.Event, { type: T }>;
/** The worker's handlers have its logger; a direct call (a test) may leave it out. */
type HandlerDeps = BillingDeps & { logger?: Logger };
type Handler<T extends Stripe.Event.Type> = (
  deps: HandlerDeps,
  event: EventOf<T>,
) => Promise<Outcome>;
type HandlerTable = { [T in Stripe.Event.Type]?: Handler<T> };

/**
 * Writes snapshots into the projection and queues the cancellation emails they reveal, in `tx`.
 * Answers what `applySubscriptions` does.
 */
async function applyAndQueueCancellations(
  tx: Tx,
  deps: BillingDeps,
  snapshots: Snapshot[],
): Promise<(Applied | RetryLater)[]> {
  const applied = await applySubscriptions(tx, snapshots);
  await queueCancellationEmails(tx, deps, applied);
  return applied;
}

/** Fetches a subscription and writes it, in one short transaction after the read. */
export async function syncSubscription(deps: BillingDeps, id: string): Promise<SubscriptionRow> {
  const snapshot = await fetchSubscription(deps, id);
  return deps.db.transaction(async (tx) => {
    const [applied] = await applyAndQueueCancellations(tx, deps, [snapshot]);
    if (applied instanceof RetryLater) throw applied;
    if (!applied) throw new Error(`subscription ${id} was not applied`);
    return applied.row;
  });
}

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

/** Whether the subscription has a card to charge: its own default, else its customer's. */
async function hasCard(deps: BillingDeps, sub: Stripe.Subscription): Promise<boolean> {
  if (sub.default_payment_method) return true;
  const id = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const customer = await deps.stripe.customers.retrieve(id);
  return !customer.deleted && Boolean(customer.invoice_settings.default_payment_method);
}

/**
 * `customer.subscription.trial_will_end`: the reminder, once per subscription and trial end, unless
 * the subscription has ended meanwhile. The trial end is Stripe's, read back like everything else:
 * the payload's may be stale (a trial extended since) or forged.
 */
async function trialWillEnd(
  deps: BillingDeps,
  event: EventOf<"customer.subscription.trial_will_end">,
): Promise<Outcome> {
  const trialing = event.data.object;
  const snapshot = await fetchSubscription(deps, trialing.id);
  const withCard = await hasCard(deps, snapshot.sub);
  await deps.db.transaction(async (tx) => {
    const [applied] = await applyAndQueueCancellations(tx, deps, [snapshot]);
    if (applied instanceof RetryLater) throw applied;
    if (!applied) throw new Error(`subscription ${trialing.id} was not applied`);
    // Applying resolved the owner and the snapshot's plan already; the stored row's plan is read
    // only when it differs (a newer row kept over this snapshot).
    const { row, user } = applied;
    const trialEnd = row.trialEnd;
    if (!trialEnd || row.endedAt) return;
    const [plan] = !row.planId
      ? []
      : applied.plan?.id === row.planId
        ? [applied.plan]
        : await tx.select().from(plans).where(eq(plans.id, row.planId));
    // A trial taken without a card gets the reminder that says how to add one.
    await queueEmail(tx, deps, {
      to: user.email,
      template: withCard ? trialEndingEmail : trialEndingWithoutCardEmail,
      data: {
        name: user.firstName || user.username,
        planName: plan?.name ?? "subscription",
        trialEnd: trialEnd.toISOString(),
      },
      causeKey: `${trialing.id}:${trialEnd.getTime() / 1000}`,
      userId: user.id,
    });
  });
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
  await recordPayment(deps, event.data.object.id, recordInvoicePaid);
  return "processed";
}

/**
 * Writes the invoice into the users' invoices (invoices-service.ts), read back from Stripe under
 * the version marker, so of the many `invoice.*` events of one invoice, in any order, the latest
 * read wins.
 */
async function storeInvoice(deps: BillingDeps, id: string | undefined): Promise<Outcome> {
  if (!id) return "ignored";
  return (await syncInvoice(deps, id)) ? "processed" : "ignored";
}

/**
 * A payment event: records the payment from one read of the invoice, then writes that same read
 * into the users' invoices, the database clock taken before the read being its version marker.
 */
export async function recordPayment(
  deps: BillingDeps,
  invoiceId: string,
  record: (deps: BillingDeps, facts: InvoiceFacts) => Promise<void>,
): Promise<void> {
  const readAt = await dbClock(deps.db);
  const facts = await invoiceFacts(deps, invoiceId);
  await record(deps, facts);
  await writeInvoice(deps, facts.invoice, readAt);
}

/**
 * What each event type does; a type not listed is answered `ignored`. Subscription events re-read
 * the subscription from Stripe instead of trusting the payload: whatever order events arrive in,
 * the projection ends at Stripe's current state, and the version marker refuses an older read
 * (docs/architecture.md, 'The version marker'). Every other handler also takes only the object's id
 * from the event and reads the rest from Stripe, so a signed but forged body decides nothing;
 * invoice and charge events record facts that stay true (this invoice was paid; attempt N failed;
 * this refund happened) under unique keys. The webhook endpoint's `enabled_events` must cover these
 * keys (HANDLED_EVENT_TYPES).
 */
const handlers: HandlerTable = {
  "customer.subscription.created": sync,
  "customer.subscription.updated": sync,
  "customer.subscription.deleted": sync,
  "customer.subscription.trial_will_end": trialWillEnd,
  "invoice.paid": invoicePaid,
  "invoice.payment_succeeded": invoicePaid,
  "invoice.payment_failed": async (deps, event) => {
    const inv = event.data.object;
    if (!inv.id) return "ignored";
    const at = { attempt: inv.attempt_count, created: event.created };
    await recordPayment(deps, inv.id, (d, facts) => recordInvoiceFailed(d, facts, at));
    return "processed";
  },
  "invoice.payment_action_required": async (deps, event) => {
    const inv = event.data.object;
    if (!inv.id) return "ignored";
    const at = { attempt: inv.attempt_count, created: event.created };
    await recordPayment(deps, inv.id, (d, facts) => recordActionRequired(d, facts, at));
    return "processed";
  },
  "invoice.created": (deps, event) => storeInvoice(deps, event.data.object.id),
  "invoice.finalized": (deps, event) => storeInvoice(deps, event.data.object.id),
  "invoice.updated": (deps, event) => storeInvoice(deps, event.data.object.id),
  "invoice.voided": (deps, event) => storeInvoice(deps, event.data.object.id),
  "invoice.marked_uncollectible": (deps, event) => storeInvoice(deps, event.data.object.id),
  "checkout.session.completed": (deps, event) => checkoutCompleted(deps, event.data.object.id),
  "checkout.session.expired": (deps, event) => checkoutExpired(deps, event.data.object.id),
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
 * else; undefined for every other event. Such events are read in batches (`handleEvents`).
 */
function subscriptionToSync(event: Stripe.Event): string | undefined {
  return handlers[event.type] === sync ? (event.data.object as { id: string }).id : undefined;
}

/** Runs one event's handler from the table. */
export async function handleEvent(deps: HandlerDeps, event: Stripe.Event): Promise<Outcome> {
  // The table is keyed by type, so the handler found is the one for this event's own type.
  const handler = handlers[event.type] as Handler<Stripe.Event.Type> | undefined;
  if (!handler) return "ignored";
  try {
    return await handler(deps, event);
  } catch (err) {
    // An owner not known yet may be named by the Checkout Session that created the subscription
    // (docs/architecture.md, 'Owner resolution'): linked now, the event need not wait for a retry.
    if (err instanceof RetryLater && (await linkOwnerThroughCheckout(deps, event))) {
      return handler(deps, event);
    }
    throw err;
  }
}

export type EventDeps = BillingDeps & { logger: Logger };

/** The audit trail's actor of what an event's handling changes (unless a caller named another). */
const eventActor = (eventId: string): AuditContext => ({
  actor: { kind: "stripe_event", eventId },
});

/** Verified and shape-checked at intake; stored as received. */
const stripeEvent = (event: LedgerEvent) => event.payload as Stripe.Event;

/** Subscription reads in flight per batch: a backlog must not turn into a burst against Stripe. */
const READS_PER_BATCH = 5;

/**
 * The one path by which Stripe events are handled (the worker's batches and a replay alike).
 * Answers, per event in order, its outcome or the error it failed with. The subscription events,
 * the bulk of Stripe's traffic, read each subscription once however many of them name it, and are
 * written with their events' `processed` status in one transaction (`syncTogether`). Should that
 * fail (a user not linked yet, a refused write), and for every other type, each event is handled
 * on its own, so one event's failure is its own.
 */
export async function handleEvents(
  deps: EventDeps,
  events: LedgerEvent[],
  batch: Batch,
): Promise<HandlerResult[]> {
  const bySubscription = new Map<string, LedgerEvent[]>();
  for (const event of events) {
    const id = subscriptionToSync(stripeEvent(event));
    if (id !== undefined) bySubscription.set(id, [...(bySubscription.get(id) ?? []), event]);
  }
  const settled = await syncTogether(deps, bySubscription, batch);
  const results: HandlerResult[] = [];
  for (const event of events) {
    if (settled.has(event.id)) {
      results.push("settled");
      continue;
    }
    try {
      const handle = () => handleEvent(deps, stripeEvent(event));
      results.push(await withDefaultActor(eventActor(event.id), handle));
    } catch (err) {
      results.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return results;
}

/**
 * Reads each subscription of `bySubscription` once and writes them with their events' `processed`
 * status in one transaction. `batch.readAt` is the database clock of before any read left: the
 * version marker every snapshot carries (docs/architecture.md, 'The version marker'), and earlier
 * than every read. Answers the ids of the events it settled; the others (a failed read, a user not
 * known yet, or all of them if the transaction failed) are left to the one-by-one path, which
 * records their failure.
 */
async function syncTogether(
  deps: EventDeps,
  bySubscription: Map<string, LedgerEvent[]>,
  batch: Batch,
): Promise<Set<string>> {
  // Sorted, so two batches that share subscriptions lock their rows in the same order.
  const ids = [...bySubscription.keys()].sort();
  if (ids.length === 0) return new Set();
  const limit = pLimit(READS_PER_BATCH);
  const reads = await Promise.allSettled(
    ids.map((id) =>
      limit(() => deps.stripe.subscriptions.retrieve(id, { expand: DISCOUNT_EXPAND })),
    ),
  );
  // Each subscription's transitions are recorded as caused by the last of its events here.
  const causeOf = (id: string) => actorOr(eventActor(bySubscription.get(id)?.at(-1)?.id ?? ""));
  const snapshots: Snapshot[] = reads.flatMap((read) =>
    read.status === "fulfilled"
      ? [{ sub: read.value, readAt: batch.readAt, cause: causeOf(read.value.id) }]
      : [],
  );
  if (snapshots.length === 0) return new Set();
  try {
    return await deps.db.transaction(async (tx) => {
      const applied = await applyAndQueueCancellations(tx, deps, snapshots);
      const done = snapshots.flatMap(({ sub }, i) =>
        applied[i] instanceof RetryLater ? [] : (bySubscription.get(sub.id) ?? []),
      );
      await batch.settle(
        tx,
        done.map((event) => event.id),
      );
      return new Set(done.map((event) => event.id));
    });
  } catch (err) {
    // Not lost: each event is handled again on its own, and fails there with its own error.
    deps.logger.warn(
      { err, subscriptions: snapshots.map(({ sub }) => sub.id) },
      "batched subscription sync failed; handling its events one by one",
    );
    return new Set();
  }
}
