import type { AuditContext, AuditEntry } from "../audit/index.ts";
import type { payments } from "./billing-tables.ts";
import type { subscriptionChanges } from "./change-tables.ts";
import { formatMinor } from "./money.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";

// Billing's transitions as audit entries (docs/access.md, 'Audit trail'), recorded by the code
// that writes them, in its transaction. Each entry carries only the fields that changed, so a
// write that changes nothing (a redelivery, an event whose change was written already) records
// nothing.

type Field = keyof SubscriptionRow;

/** The columns an entry shows, by their API name. */
const NAMES = {
  status: "status",
  endedAt: "ended_at",
  planId: "plan_id",
  quantity: "quantity",
  cancelAtPeriodEnd: "cancel_at_period_end",
  cancelAt: "cancel_at",
  canceledAt: "canceled_at",
  currentPeriodStart: "current_period_start",
  currentPeriodEnd: "current_period_end",
  trialStart: "trial_start",
  trialEnd: "trial_end",
} as const satisfies Partial<Record<Field, string>>;

type Named = keyof typeof NAMES;

const value = (v: unknown) => (v instanceof Date ? v.toISOString() : (v ?? null));

/** `fields` as `{api_name: value}`. */
function pick(row: SubscriptionRow, fields: Named[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [NAMES[f], value(row[f])]));
}

function changed(before: SubscriptionRow, after: SubscriptionRow, fields: Named[]): Named[] {
  return fields.filter((f) => value(before[f]) !== value(after[f]));
}

const cancelScheduled = (row: SubscriptionRow) => row.cancelAtPeriodEnd || row.cancelAt !== null;

/**
 * The transitions from `before` (undefined: the subscription is new to us) to `after`, the row as
 * written: `subscription.created`, `subscription.status_changed`, `subscription.plan_changed`,
 * `subscription.cancel_scheduled`, `subscription.reactivated`, `subscription.renewed`,
 * `trial.started`, `trial.ended`.
 */
export function subscriptionTransitions(
  before: SubscriptionRow | undefined,
  after: SubscriptionRow,
  context?: AuditContext,
): AuditEntry[] {
  const entries: AuditEntry[] = [];
  const add = (kind: string, fields: Named[], from?: SubscriptionRow) => {
    entries.push({
      userId: after.userId,
      kind,
      subjectId: after.stripeSubscriptionId,
      before: from ? pick(from, fields) : {},
      after: pick(after, fields),
      ...(context ? { context } : {}),
    });
  };
  if (!before) {
    const shown: Named[] = [
      "status",
      "planId",
      "quantity",
      "currentPeriodStart",
      "currentPeriodEnd",
    ];
    for (const f of [
      "cancelAtPeriodEnd",
      "cancelAt",
      "endedAt",
      "trialStart",
      "trialEnd",
    ] as const) {
      if (after[f]) shown.push(f);
    }
    add("subscription.created", shown);
    if (after.status === "trialing") add("trial.started", ["status", "trialStart", "trialEnd"]);
    return entries;
  }
  const ended = after.status === "canceled" || after.endedAt !== null;
  const status = changed(before, after, ["status", "endedAt"]);
  const cancel = changed(before, after, ["cancelAtPeriodEnd", "cancelAt", "canceledAt"]);
  if (status.length > 0) {
    // An ending's cancellation fields belong to the ending, not to a schedule of it.
    add("subscription.status_changed", ended ? [...status, ...cancel] : status, before);
  }
  if (before.status !== "trialing" && after.status === "trialing") {
    add("trial.started", ["status", "trialStart", "trialEnd"], before);
  } else if (before.status === "trialing" && after.status !== "trialing") {
    add("trial.ended", ["status", ...changed(before, after, ["trialEnd"])], before);
  }
  const plan = changed(before, after, ["planId", "quantity"]);
  if (plan.length > 0) add("subscription.plan_changed", plan, before);
  // A cancellation scheduled, moved or taken back; Stripe's `canceled_at` alone moving is none.
  if (cancel.length > 0 && !ended && (cancelScheduled(before) || cancelScheduled(after))) {
    const kind = cancelScheduled(after)
      ? "subscription.cancel_scheduled"
      : "subscription.reactivated";
    add(kind, cancel, before);
  }
  const period = changed(before, after, ["currentPeriodStart", "currentPeriodEnd"]);
  if (period.length > 0 && !ended) add("subscription.renewed", period, before);
  return entries;
}

const PAYMENT_KINDS: Record<string, string> = {
  succeeded: "payment.recorded",
  failed: "payment.failed",
  refunded: "payment.refunded",
};

/**
 * The audit entry of a payment row just inserted: a fact recorded once (its unique key), so a
 * redelivered event, which inserts nothing, records nothing. Its subject is the invoice, or the
 * refund.
 */
export function paymentAudit(row: typeof payments.$inferSelect): AuditEntry {
  return {
    userId: row.userId,
    kind: PAYMENT_KINDS[row.status] ?? `payment.${row.status}`,
    subjectId: row.stripeRefundId ?? row.stripeInvoiceId ?? row.stripePaymentIntentId,
    after: {
      status: row.status,
      amount: formatMinor(row.amount, row.currency),
      currency: row.currency,
      ...(row.status === "failed" ? { attempt: row.attempt } : {}),
      ...(row.stripeRefundId ? { refunded_invoice: row.stripeInvoiceId } : {}),
    },
  };
}

type ChangeRow = typeof subscriptionChanges.$inferSelect;

const PLAN_CHANGE_KINDS: Record<string, string> = {
  scheduled: "plan_change.scheduled",
  applied: "plan_change.applied",
  awaiting_payment: "plan_change.awaiting_payment",
  replaced: "plan_change.cancelled",
  canceled: "plan_change.cancelled",
};

/**
 * The audit entry of a plan change's row written with `row.status`: a new row (`from` undefined)
 * shows what was asked, a status change only the status. Its subject is the change's id.
 */
export function planChangeAudit(row: ChangeRow, from?: string): AuditEntry {
  return {
    userId: row.userId,
    kind: PLAN_CHANGE_KINDS[row.status] ?? `plan_change.${row.status}`,
    subjectId: row.id,
    before: from === undefined ? {} : { status: from },
    after:
      from === undefined
        ? {
            status: row.status,
            plan_id: row.planId,
            quantity: row.quantity,
            effective_at: row.effectiveAt.toISOString(),
            ...(row.promotionCode ? { promotion_code: row.promotionCode } : {}),
          }
        : { status: row.status },
  };
}

/** `customer.linked`: the user's Stripe customer, set or replaced. */
export function customerLinkedAudit(
  userId: string,
  before: string | null,
  after: string,
): AuditEntry {
  return {
    userId,
    kind: "customer.linked",
    subjectId: after,
    before: before === null ? {} : { stripe_customer_id: before },
    after: { stripe_customer_id: after },
  };
}
