import { and, count, desc, eq, inArray } from "drizzle-orm";
import Stripe from "stripe";
import type { User } from "../accounts/index.ts";
import { recordAudit } from "../audit/index.ts";
import type { Executor, Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import type { PageRequest } from "../platform/http/pagination.ts";
import { paymentAudit } from "./billing-audit.ts";
import type { BillingDeps } from "./billing-deps.ts";
import {
  paymentActionRequiredEmail,
  paymentFailedEmail,
  subscriptionConfirmationEmail,
} from "./billing-emails.ts";
import { payments, plans } from "./billing-tables.ts";
import { confirmAwaitingChange } from "./change-service.ts";
import { displayAmount, formatMinor } from "./money.ts";
import { customerIdOf, resolveUser } from "./owners.ts";
import { discountBody } from "./subscription-discounts.ts";
import { queueCancellationEmails } from "./subscription-emails.ts";
import {
  applySubscription,
  fetchSubscription,
  RetryLater,
  type Snapshot,
} from "./subscription-projection.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";
import { queueTrialConverted } from "./trials.ts";

export type PaymentRow = typeof payments.$inferSelect;

export interface PaymentBody {
  id: string;
  stripe_payment_intent_id: string | null;
  stripe_invoice_id: string | null;
  amount: string;
  currency: string;
  status: string;
  description: string;
  quantity: number | null;
  unit_amount: string | null;
  discount_amount: string;
  promotion_code: string | null;
  created_at: string;
}

export function paymentBody(row: PaymentRow): PaymentBody {
  return {
    id: row.id,
    stripe_payment_intent_id: row.stripePaymentIntentId,
    stripe_invoice_id: row.stripeInvoiceId,
    amount: formatMinor(row.amount, row.currency),
    currency: row.currency,
    status: row.status,
    description: row.description,
    quantity: row.quantity,
    unit_amount: row.unitAmount === null ? null : formatMinor(row.unitAmount, row.currency),
    discount_amount: formatMinor(row.discountAmount, row.currency),
    promotion_code: row.promotionCode,
    created_at: row.occurredAt.toISOString(),
  };
}

/** A user's history order; `payments_user_history_idx` holds exactly this order. */
const historyOrder = [desc(payments.occurredAt), desc(payments.createdAt), desc(payments.id)];

/**
 * The user's payments, newest first. The page's ids come first, by an index-only scan of the
 * history index, and only those 20 rows are read: with a plain OFFSET every skipped row is read
 * from the heap, which for a long history spread over a big table is a page read per payment
 * (bench/GROWTH.md). The count is an index-only scan of the same index.
 */
export async function listPayments(
  db: Executor,
  userId: string,
  page: PageRequest,
): Promise<{ count: number; payments: PaymentRow[] }> {
  const [total] = await db.select({ n: count() }).from(payments).where(eq(payments.userId, userId));
  const pageIds = db
    .select({ id: payments.id })
    .from(payments)
    .where(eq(payments.userId, userId))
    .orderBy(...historyOrder)
    .limit(page.limit)
    .offset(page.offset);
  const rows = await db
    .select()
    .from(payments)
    .where(inArray(payments.id, pageIds))
    .orderBy(...historyOrder);
  return { count: total?.n ?? 0, payments: rows };
}

function subscriptionIdOfInvoice(inv: Stripe.Invoice): string | null {
  const sub = inv.parent?.subscription_details?.subscription;
  if (!sub) return null;
  return typeof sub === "string" ? sub : sub.id;
}

/** An invoice as the payment handlers need it: its PaymentIntent read through `payments`. */
export interface InvoiceFacts {
  invoice: Stripe.Invoice;
  paymentIntent: Stripe.PaymentIntent | null;
  snapshot: Snapshot | null;
}

/**
 * Reads what an invoice event does not carry: the PaymentIntent (through `invoice.payments`,
 * since `invoice.payment_intent` is gone) and the subscription, so rows for objects we have not
 * stored yet can be created (docs/architecture.md, 'Owner resolution').
 */
export async function invoiceFacts(deps: BillingDeps, invoiceId: string): Promise<InvoiceFacts> {
  const invoice = await deps.stripe.invoices.retrieve(invoiceId, {
    expand: ["payments.data.payment.payment_intent"],
  });
  const payment = invoice.payments?.data.find((p) => p.is_default) ?? invoice.payments?.data[0];
  const pi = payment?.payment.payment_intent;
  const subId = subscriptionIdOfInvoice(invoice);
  return {
    invoice,
    paymentIntent: pi && typeof pi === "object" ? pi : null,
    snapshot: subId ? await fetchSubscription(deps, subId) : null,
  };
}

interface Context {
  user: User;
  subscription: SubscriptionRow | null;
  planName: string;
}

async function contextOf(tx: Tx, deps: BillingDeps, facts: InvoiceFacts): Promise<Context> {
  const applied = facts.snapshot ? await applySubscription(tx, facts.snapshot) : null;
  if (applied) await queueCancellationEmails(tx, deps, [applied]);
  const subscription = applied?.row ?? null;
  const customerId = customerIdOf(facts.invoice.customer);
  const user = await resolveUser(
    tx,
    customerId,
    facts.invoice.parent?.subscription_details?.metadata?.user_id ?? subscription?.userId,
  );
  if (!user) throw new RetryLater(`no user known yet for invoice ${facts.invoice.id}`);
  // Applying the snapshot resolved its plan already; the stored row's is read only when it differs.
  const planId = subscription?.planId;
  const [plan] = !planId
    ? []
    : applied?.plan?.id === planId
      ? [applied.plan]
      : await tx.select().from(plans).where(eq(plans.id, planId));
  return { user, subscription, planName: plan?.name ?? "subscription" };
}

/** What the event itself says: the attempt it reports (its invoice's `attempt_count`) and when. */
export interface EventFacts {
  attempt: number;
  created: number;
}

const nameOf = (user: User) => user.firstName || user.username;

/**
 * `invoice.paid`: one `succeeded` row per invoice (a unique index backs it) and the confirmation
 * email, both keyed by the invoice, so a redelivery or `invoice.payment_succeeded` adds nothing.
 */
export async function recordInvoicePaid(deps: BillingDeps, facts: InvoiceFacts): Promise<void> {
  const inv = facts.invoice;
  if (inv.amount_paid <= 0) return;
  await deps.db.transaction(async (tx) => {
    const ctx = await contextOf(tx, deps, facts);
    const inserted = await tx
      .insert(payments)
      .values({
        ...invoicePayment(ctx, facts),
        amount: inv.amount_paid,
        status: "succeeded",
        occurredAt: new Date((inv.status_transitions.paid_at ?? inv.created) * 1000),
      })
      .onConflictDoNothing()
      .returning();
    await recordAudit(tx, inserted.map(paymentAudit));
    await queueEmail(tx, deps, {
      to: ctx.user.email,
      template: subscriptionConfirmationEmail,
      data: {
        name: nameOf(ctx.user),
        planName: ctx.planName,
        amount: receiptAmount(inv, ctx),
        periodEnd: ctx.subscription?.currentPeriodEnd?.toISOString() ?? null,
      },
      causeKey: inv.id,
      userId: ctx.user.id,
    });
    await queueTrialConverted(tx, deps, { ...ctx, row: ctx.subscription, invoice: inv });
    await confirmAwaitingChange(tx, deps, inv.id, ctx.user);
  });
}

/** "24.00 USD", or with a discount "24.00 USD (6.00 USD off with LAUNCH20)". */
function receiptAmount(inv: Stripe.Invoice, ctx: Context): string {
  const paid = displayAmount(inv.amount_paid, inv.currency);
  const off = (inv.total_discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
  if (off <= 0) return paid;
  const code = discountBody(ctx.subscription?.discount)?.code;
  return `${paid} (${displayAmount(off, inv.currency)} off${code ? ` with ${code}` : ""})`;
}

/** The columns a payment row takes from its invoice, whatever its outcome. */
function invoicePayment(ctx: Context, facts: InvoiceFacts) {
  const inv = facts.invoice;
  const item = facts.snapshot?.sub.items.data[0];
  const discount = discountBody(ctx.subscription?.discount);
  const discountAmount = (inv.total_discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
  return {
    quantity: item?.quantity ?? null,
    unitAmount: item?.price.unit_amount ?? null,
    discountAmount,
    promotionCode: discountAmount > 0 ? (discount?.code ?? null) : null,
    userId: ctx.user.id,
    subscriptionId: ctx.subscription?.id ?? null,
    stripeInvoiceId: inv.id,
    stripePaymentIntentId: facts.paymentIntent?.id ?? null,
    stripeChargeId: chargeIdOf(facts.paymentIntent),
    currency: inv.currency,
    description: `${ctx.planName} (${inv.billing_reason ?? "invoice"})`,
  };
}

function chargeIdOf(pi: Stripe.PaymentIntent | null): string | null {
  const charge = pi?.latest_charge;
  if (!charge) return null;
  return typeof charge === "string" ? charge : charge.id;
}

/**
 * `invoice.payment_failed`: one `failed` row per attempt. The attempt number comes from the event
 * (the invoice as it was at that attempt), so each failure is its own fact and a redelivery of
 * one is not another. The customer is emailed for renewals; a failed first payment is answered
 * on-session by the create request (402), so it sends no email.
 */
export async function recordInvoiceFailed(
  deps: BillingDeps,
  facts: InvoiceFacts,
  event: EventFacts,
): Promise<void> {
  const inv = facts.invoice;
  const { attempt } = event;
  await deps.db.transaction(async (tx) => {
    const ctx = await contextOf(tx, deps, facts);
    const inserted = await tx
      .insert(payments)
      .values({
        ...invoicePayment(ctx, facts),
        amount: inv.amount_due,
        status: "failed",
        attempt,
        failureMessage: facts.paymentIntent?.last_payment_error?.message ?? null,
        occurredAt: new Date(event.created * 1000),
      })
      .onConflictDoNothing()
      .returning();
    await recordAudit(tx, inserted.map(paymentAudit));
    if (inv.billing_reason === "subscription_create") return;
    await queueInvoiceEmail(tx, deps, ctx, paymentFailedEmail, inv, attempt);
  });
}

/** `invoice.payment_action_required` on a renewal: ask the customer to authenticate, once per attempt. */
export async function recordActionRequired(
  deps: BillingDeps,
  facts: InvoiceFacts,
  { attempt }: EventFacts,
): Promise<void> {
  const inv = facts.invoice;
  await deps.db.transaction(async (tx) => {
    const ctx = await contextOf(tx, deps, facts);
    if (inv.billing_reason === "subscription_create") return;
    await queueInvoiceEmail(tx, deps, ctx, paymentActionRequiredEmail, inv, attempt);
  });
}

/** A renewal problem the customer must act on: one email per invoice attempt, with its link. */
async function queueInvoiceEmail(
  tx: Tx,
  deps: BillingDeps,
  ctx: Context,
  template: typeof paymentFailedEmail | typeof paymentActionRequiredEmail,
  inv: Stripe.Invoice,
  attempt: number,
): Promise<void> {
  await queueEmail(tx, deps, {
    to: ctx.user.email,
    template,
    data: {
      name: nameOf(ctx.user),
      planName: ctx.planName,
      amount: displayAmount(inv.amount_due, inv.currency),
      hostedInvoiceUrl: inv.hosted_invoice_url ?? null,
    },
    causeKey: `${inv.id}:${attempt}`,
    userId: ctx.user.id,
  });
}

/** Whether a PaymentIntent paid an invoice (a subscription payment, not a one-off charge). */
async function paidAnInvoice(stripe: Stripe, paymentIntentId: string): Promise<boolean> {
  const found = await stripe.invoicePayments.list({
    payment: { type: "payment_intent", payment_intent: paymentIntentId },
    limit: 1,
  });
  return found.data.length > 0;
}

/** The charge as Stripe has it, or undefined when Stripe has no such charge. */
async function retrieveCharge(stripe: Stripe, id: string): Promise<Stripe.Charge | undefined> {
  try {
    return await stripe.charges.retrieve(id);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === "resource_missing") {
      return undefined;
    }
    throw err;
  }
}

/**
 * `charge.refunded`: one `refunded` row per refund of the charge (a partial refund and a later
 * one are two rows). Only the charge's id is taken from the event. The charge (whose payment
 * intent, customer and metadata say whose money it was) and its refunds are read from Stripe, so
 * an event signed with a leaked secret cannot file a refund under another user, nor take the
 * refund's unique key before the genuine event. Answers false, recording nothing, for a charge
 * Stripe does not know.
 */
export async function recordRefunds(deps: BillingDeps, chargeId: string): Promise<boolean> {
  const charge = await retrieveCharge(deps.stripe, chargeId);
  if (!charge) return false;
  const piId =
    typeof charge.payment_intent === "string" ? charge.payment_intent : charge.payment_intent?.id;
  const refunds = await deps.stripe.refunds.list({ charge: charge.id, limit: 100 });
  await deps.db.transaction(async (tx) => {
    const [paid] = piId
      ? await tx
          .select()
          .from(payments)
          .where(and(eq(payments.stripePaymentIntentId, piId), eq(payments.status, "succeeded")))
      : [];
    // Events arrive in any order: a refund seen before the invoice payment it refunds is recorded
    // would be stored without that payment's invoice and subscription, for good (its row is never
    // rewritten). Wait for the payment instead: `invoice.paid` (or `invoice.payment_succeeded`)
    // needs nothing and lands first.
    if (!paid && piId && (await paidAnInvoice(deps.stripe, piId))) {
      throw new RetryLater(`payment ${piId} refunded by charge ${charge.id} is not recorded yet`);
    }
    const user = paid
      ? { id: paid.userId }
      : await resolveUser(tx, customerIdOf(charge.customer), charge.metadata.user_id);
    if (!user) throw new RetryLater(`no user known yet for charge ${charge.id}`);
    const recorded: PaymentRow[] = [];
    for (const refund of refunds.data) {
      if (refund.status === "failed" || refund.status === "canceled") continue;
      const inserted = await tx
        .insert(payments)
        .values({
          userId: user.id,
          subscriptionId: paid?.subscriptionId ?? null,
          stripeInvoiceId: paid?.stripeInvoiceId ?? null,
          stripePaymentIntentId: piId ?? null,
          stripeChargeId: charge.id,
          stripeRefundId: refund.id,
          amount: refund.amount,
          currency: refund.currency,
          status: "refunded",
          description: `Refund${paid ? ` of ${paid.description}` : ""}`,
          occurredAt: new Date(refund.created * 1000),
        })
        .onConflictDoNothing()
        .returning();
      recorded.push(...inserted);
    }
    await recordAudit(tx, recorded.map(paymentAudit));
  });
  return true;
}
