import { setTimeout as sleep } from "node:timers/promises";
import Stripe from "stripe";
import type { ListKind } from "./reconcile-checkpoint.ts";

// How reconciliation reads Stripe (reconcile.ts): pages of its lists, and its events in ascending
// windows of time, each call retried with backoff while Stripe answers 429.

export interface Backoff {
  /** Retries of a call answered 429 before the run gives up (the next run continues). */
  retries: number;
  /** The first wait; each retry doubles it, with jitter. */
  baseMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { retries: 6, baseMs: 1000 };

/**
 * Runs `call`, waiting and retrying while Stripe rate-limits it. The SDK retries connection errors,
 * 409 and 5xx itself (maxNetworkRetries), but not 429: Stripe's rate limit is per account, shared
 * with the API's own requests, so a background job must yield to them instead of failing.
 */
export async function withBackoff<T>(backoff: Backoff, call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const limited =
        err instanceof Stripe.errors.StripeRateLimitError ||
        (err instanceof Stripe.errors.StripeError && err.statusCode === 429);
      if (!limited || attempt >= backoff.retries) throw err;
      const wait = backoff.baseMs * 2 ** attempt;
      await sleep(wait / 2 + Math.random() * (wait / 2));
    }
  }
}

export const PAGE_SIZE = 100;

/** One page, newest first, of a whole list (the first run's full pass). */
export async function listPage(
  stripe: Stripe,
  kind: ListKind,
  after: string | null,
): Promise<{ data: (Stripe.Subscription | Stripe.Invoice | Stripe.Refund)[]; hasMore: boolean }> {
  const page = { limit: PAGE_SIZE, ...(after ? { starting_after: after } : {}) };
  const list =
    kind === "subscriptions"
      ? await stripe.subscriptions.list({ ...page, status: "all" })
      : kind === "invoices"
        ? await stripe.invoices.list(page)
        : await stripe.refunds.list(page);
  return { data: list.data, hasMore: list.has_more };
}

/**
 * The event types reconciliation reads: those whose handling writes a subscription, an invoice or
 * a payment (stripe-events.ts). At most 20, Stripe's limit for `types`.
 */
export const RECONCILED_EVENT_TYPES = [
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "invoice.created",
  "invoice.finalized",
  "invoice.updated",
  "invoice.voided",
  "invoice.marked_uncollectible",
  "invoice.paid",
  "invoice.payment_succeeded",
  "invoice.payment_failed",
  "charge.refunded",
] as const satisfies readonly Stripe.Event.Type[];

/** Events one window may hold before it is split (Stripe lists events newest first only). */
export const MAX_WINDOW_EVENTS = 1000;

/** The newest event's `created` (Stripe's clock), or undefined when Stripe keeps none. */
export async function newestEventTime(stripe: Stripe, backoff: Backoff) {
  const page = await withBackoff(backoff, () =>
    stripe.events.list({ limit: 1, types: [...RECONCILED_EVENT_TYPES] }),
  );
  return page.data[0]?.created;
}

/**
 * The events created in [from, to), oldest first; undefined when there are more than
 * MAX_WINDOW_EVENTS and the window can be narrowed (then `oldestSeen` says where the newest
 * MAX_WINDOW_EVENTS begin, so the caller narrows below it). `onRead` counts each page read.
 */
export async function eventsBetween(
  stripe: Stripe,
  backoff: Backoff,
  from: number,
  to: number,
  onRead: (n: number) => void,
): Promise<{ events: Stripe.Event[] } | { oldestSeen: number }> {
  const events: Stripe.Event[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await withBackoff(backoff, () =>
      stripe.events.list({
        limit: PAGE_SIZE,
        types: [...RECONCILED_EVENT_TYPES],
        created: { gte: from, lt: to },
        ...(after ? { starting_after: after } : {}),
      }),
    );
    onRead(page.data.length);
    events.push(...page.data);
    const last = page.data.at(-1);
    if (!page.has_more || !last) break;
    if (events.length >= MAX_WINDOW_EVENTS && to - from > 1) return { oldestSeen: last.created };
    after = last.id;
  }
  // Newest first, as Stripe lists them; reversed, events of one second keep their creation order.
  return { events: events.reverse().sort((a, b) => a.created - b.created) };
}
