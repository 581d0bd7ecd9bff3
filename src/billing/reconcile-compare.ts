import { and, eq } from "drizzle-orm";
import type Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import { payments, plans, subscriptions } from "./billing-tables.ts";
import { invoices } from "./hosted-tables.ts";

// What reconciliation compares (reconcile.ts): a Stripe object against the row our projection
// holds of it, field by field, as the webhook path would have written it. Each answer is the list
// of fields that differ ("missing" when there is no row), empty when the database agrees.

const seconds = (d: Date | null) => (d === null ? null : Math.floor(d.getTime() / 1000));
const idOf = (v: string | { id: string } | null) => (typeof v === "string" ? v : (v?.id ?? null));

function differing(want: Record<string, unknown>, have: Record<string, unknown>): string[] {
  return Object.keys(want).filter((key) => want[key] !== have[key]);
}

/** Our plan of each Stripe price, read once per run. */
export class PlanIds {
  readonly #cache = new Map<string, string | null>();
  readonly #db: Executor;
  constructor(db: Executor) {
    this.#db = db;
  }
  async of(priceId: string | undefined): Promise<string | null> {
    if (!priceId) return null;
    const cached = this.#cache.get(priceId);
    if (cached !== undefined) return cached;
    const [plan] = await this.#db
      .select({ id: plans.id })
      .from(plans)
      .where(eq(plans.stripePriceId, priceId));
    this.#cache.set(priceId, plan?.id ?? null);
    return plan?.id ?? null;
  }
}

/**
 * The fields the projection (subscription-projection.ts) writes that say what the subscription
 * grants: status, period, cancellation, trial, plan and seats. The discount is left out: a list
 * does not expand it, and a heal re-reads it anyway.
 */
export async function subscriptionDrift(
  db: Executor,
  planIds: PlanIds,
  sub: Stripe.Subscription,
): Promise<string[]> {
  const [row] = await db
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.stripeSubscriptionId, sub.id));
  if (!row) return ["missing"];
  const item = sub.items.data[0];
  const want = {
    status: sub.status,
    currentPeriodStart: item?.current_period_start ?? null,
    currentPeriodEnd: item?.current_period_end ?? null,
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    cancelAt: sub.cancel_at ?? null,
    canceledAt: sub.canceled_at ?? null,
    endedAt: sub.ended_at ?? null,
    trialStart: sub.trial_start ?? null,
    trialEnd: sub.trial_end ?? null,
    quantity: item?.quantity ?? 1,
    unitAmount: item?.price.unit_amount ?? null,
    stripeScheduleId: idOf(sub.schedule),
    planId: await planIds.of(item?.price.id),
  };
  const have = {
    status: row.status,
    currentPeriodStart: seconds(row.currentPeriodStart),
    currentPeriodEnd: seconds(row.currentPeriodEnd),
    cancelAtPeriodEnd: row.cancelAtPeriodEnd,
    cancelAt: seconds(row.cancelAt),
    canceledAt: seconds(row.canceledAt),
    endedAt: seconds(row.endedAt),
    trialStart: seconds(row.trialStart),
    trialEnd: seconds(row.trialEnd),
    quantity: row.quantity,
    unitAmount: row.unitAmount,
    stripeScheduleId: row.stripeScheduleId,
    planId: row.planId,
  };
  return differing(want, have);
}

/** The users' invoice row (invoices-service.ts) against the invoice: its state and amounts. */
export async function invoiceDrift(db: Executor, inv: Stripe.Invoice): Promise<string[]> {
  if (!inv.id) return [];
  const [row] = await db.select().from(invoices).where(eq(invoices.stripeInvoiceId, inv.id));
  if (!row) return ["missing"];
  const want = {
    status: inv.status ?? "draft",
    number: inv.number,
    total: inv.total,
    amountDue: inv.amount_due,
    amountPaid: inv.amount_paid,
    amountRemaining: inv.amount_remaining,
    hostedInvoiceUrl: inv.hosted_invoice_url ?? null,
    invoicePdf: inv.invoice_pdf ?? null,
  };
  return differing(want, {
    status: row.status,
    number: row.number,
    total: row.total,
    amountDue: row.amountDue,
    amountPaid: row.amountPaid,
    amountRemaining: row.amountRemaining,
    hostedInvoiceUrl: row.hostedInvoiceUrl,
    invoicePdf: row.invoicePdf,
  });
}

/** A paid invoice whose `succeeded` payment row is missing (`invoice.paid` never handled). */
export async function paymentMissing(db: Executor, inv: Stripe.Invoice): Promise<boolean> {
  if (!inv.id || inv.status !== "paid" || inv.amount_paid <= 0) return false;
  const [row] = await db
    .select({ id: payments.id })
    .from(payments)
    .where(and(eq(payments.stripeInvoiceId, inv.id), eq(payments.status, "succeeded")));
  return !row;
}

/** Whether attempt `attempt` of the invoice has its `failed` row. */
export async function failureRecorded(
  db: Executor,
  invoiceId: string,
  attempt: number,
): Promise<boolean> {
  const [row] = await db
    .select({ id: payments.id })
    .from(payments)
    .where(
      and(
        eq(payments.stripeInvoiceId, invoiceId),
        eq(payments.status, "failed"),
        eq(payments.attempt, attempt),
      ),
    );
  return Boolean(row);
}

/** A refund that happened (not failed or canceled) without its `refunded` row. */
export async function refundMissing(db: Executor, refund: Stripe.Refund): Promise<boolean> {
  if (refund.status === "failed" || refund.status === "canceled") return false;
  const [row] = await db
    .select({ id: payments.id })
    .from(payments)
    .where(and(eq(payments.stripeRefundId, refund.id), eq(payments.status, "refunded")));
  return !row;
}
