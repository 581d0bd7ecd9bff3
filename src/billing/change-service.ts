import { and, eq, sql } from "drizzle-orm";
import type Stripe from "stripe";
import { getUserById, type User } from "../accounts/index.ts";
import { recordAudit } from "../audit/index.ts";
import type { Tx } from "../platform/db/client.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";
import { planChangeAudit } from "./billing-audit.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { withBillingWrite } from "./billing-lock.ts";
import { plans } from "./billing-tables.ts";
import { queueChangeEmail } from "./change-emails.ts";
import {
  type Change,
  type ChangeInput,
  changeableSubscription,
  checkChange,
} from "./change-rules.ts";
import { endScheduledChange, releaseSchedule, scheduleAtPeriodEnd } from "./change-schedules.ts";
import { subscriptionChanges } from "./change-tables.ts";
import { formatMinor } from "./money.ts";
import { type PendingChangeBody, pendingChangeOf, sameScheduledChange } from "./pending-change.ts";
import { type PlanBody, planBody } from "./plans-service.ts";
import { promotionCodeError, resolvePromotionCode } from "./promotion-codes.ts";
import { DISCOUNT_EXPAND } from "./subscription-discounts.ts";
import { applySubscription, dbClock, type Snapshot } from "./subscription-projection.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";
import { type SubscriptionBody, subscriptionBody } from "./subscriptions-service.ts";

type Deps = BillingDeps & { logger: Logger };

export interface PreviewLine {
  description: string;
  amount: string;
  proration: boolean;
}

export interface PreviewBody {
  plan: PlanBody;
  quantity: number;
  effective: "now" | "period_end";
  effective_at: string;
  currency: string;
  amount_due_now: string;
  lines: PreviewLine[];
  next_invoice: { amount: string; date: string | null };
}

async function stripeSubscription(stripe: Stripe, row: SubscriptionRow) {
  const sub = await stripe.subscriptions.retrieve(row.stripeSubscriptionId);
  const item = sub.items.data[0];
  if (!item) throw new Error(`subscription ${sub.id} has no item`);
  return { sub, item };
}

/** The first line billing a period (not a proration): when the invoice's new period starts. */
function periodLine(inv: Stripe.Invoice) {
  return inv.lines.data.find((l) => !l.parent?.subscription_item_details?.proration);
}

/**
 * GET change/preview/: what the change costs, from Stripe's `invoices.createPreview` (never our
 * own arithmetic): for a change made now, the invoice the update would charge at once (its
 * proration lines); either way, the next renewal on the new plan.
 */
export async function previewChange(
  deps: Deps,
  userId: string,
  input: ChangeInput,
): Promise<PreviewBody> {
  const change = await checkChange(deps.db, userId, input);
  const { sub, item } = await stripeSubscription(deps.stripe, change.row);
  const items = [{ id: item.id, price: change.plan.stripePriceId, quantity: change.quantity }];
  const preview = (proration_behavior: "always_invoice" | "none") =>
    deps.stripe.invoices.createPreview({
      subscription: sub.id,
      subscription_details: { items, proration_behavior },
    });
  const now = change.timing === "now";
  const [dueNow, next] = await Promise.all([
    now ? preview("always_invoice") : null,
    preview("none"),
  ]);
  const currency = next.currency;
  const nextStart = periodLine(next)?.period.start;
  return {
    plan: planBody(change.plan),
    quantity: change.quantity,
    effective: change.timing,
    effective_at: new Date(
      (now ? (dueNow?.created ?? next.created) : item.current_period_end) * 1000,
    ).toISOString(),
    currency,
    amount_due_now: formatMinor(dueNow?.amount_due ?? 0, currency),
    lines: (dueNow?.lines.data ?? []).map((line) => ({
      description: line.description ?? "",
      amount: formatMinor(line.amount, currency),
      proration: line.parent?.subscription_item_details?.proration ?? false,
    })),
    next_invoice: {
      amount: formatMinor(next.amount_due, currency),
      date: nextStart === undefined ? null : new Date(nextStart * 1000).toISOString(),
    },
  };
}

export interface ChangeResult {
  /** `changed`: in effect now; `scheduled`: at the period end; `requires_action`: 3-D Secure. */
  outcome: "changed" | "scheduled" | "requires_action";
  subscription: SubscriptionBody & { pending_change: PendingChangeBody | null };
  clientSecret: string | null;
}

/**
 * POST change/, one billing write of the user's at a time (`withBillingWrite`: a concurrent one is
 * a 409). The idempotency key names the subscription's row version and the change asked for: a
 * retried request repeats one request at Stripe, a later change is a new one.
 */
export function changeSubscription(
  deps: Deps,
  userId: string,
  input: ChangeInput,
): Promise<ChangeResult> {
  return withBillingWrite(deps.db, userId, "change", () => applyChange(deps, userId, input));
}

async function applyChange(deps: Deps, userId: string, input: ChangeInput): Promise<ChangeResult> {
  const change = await checkChange(deps.db, userId, input);
  const { row, plan } = change;
  const already = await sameScheduledChange(deps.db, change, input.promotion_code);
  if (already) {
    const subscription = { ...(await subscriptionBody(deps.db, row)), pending_change: already };
    return { outcome: "scheduled", subscription, clientSecret: null };
  }
  const promo = input.promotion_code
    ? await resolvePromotionCode(deps.stripe, input.promotion_code, plan)
    : undefined;
  const key = `change:${row.id}:${row.stripeSyncedAt.getTime()}:${plan.id}:${change.quantity}:${change.timing}`;
  const user = await getUserById(deps.db, userId);
  if (!user) throw new Error(`user ${userId} not found`);
  const { sub, item } = await stripeSubscription(deps.stripe, row);
  try {
    if (change.timing === "period_end") {
      const schedule = await scheduleAtPeriodEnd(deps.stripe, sub, change, promo, key);
      const effectiveAt = new Date(item.current_period_end * 1000);
      return await record(deps, change, user, key, {
        scheduleId: schedule.id,
        effectiveAt,
        promoCode: input.promotion_code,
      });
    }
    const scheduleId = typeof sub.schedule === "string" ? sub.schedule : sub.schedule?.id;
    // A change made now replaces one scheduled for later.
    if (scheduleId) {
      await releaseSchedule(deps.stripe, scheduleId, `${key}:release`);
      await deps.db.transaction((tx) => endScheduledChange(tx, row.id, "replaced"));
    }
    if (promo) {
      await deps.stripe.subscriptions.update(
        sub.id,
        { discounts: [{ promotion_code: promo }] },
        { idempotencyKey: `${key}:discount` },
      );
    }
    return await changeNow(deps, change, user, key, {
      sub,
      itemId: item.id,
      promo,
      promoCode: input.promotion_code,
    });
  } catch (err) {
    const promoError = promotionCodeError(err);
    if (promoError) throw promoError;
    throw err;
  }
}

/**
 * The update, charged at once: `pending_if_incomplete` keeps the old plan unless the proration
 * invoice is paid. Declined, the invoice is voided (so no retry charges it later), the discount
 * this request added is taken back, and the decline is the 402; needing 3-D Secure, the client
 * secret is handed out, and Stripe applies the change when the customer completes it.
 */
async function changeNow(
  deps: Deps,
  change: Change,
  user: User,
  key: string,
  at: {
    sub: Stripe.Subscription;
    itemId: string;
    promo: string | undefined;
    promoCode: string | undefined;
  },
): Promise<ChangeResult> {
  const readAt = await dbClock(deps.db);
  const updated = await deps.stripe.subscriptions.update(
    at.sub.id,
    {
      items: [{ id: at.itemId, price: change.plan.stripePriceId, quantity: change.quantity }],
      proration_behavior: "always_invoice",
      payment_behavior: "pending_if_incomplete",
      expand: [
        ...DISCOUNT_EXPAND,
        "latest_invoice.payments.data.payment.payment_intent",
        "latest_invoice.confirmation_secret",
      ],
    },
    { idempotencyKey: `${key}:update` },
  );
  if (!updated.pending_update) {
    return record(deps, change, user, key, {
      snapshot: { sub: updated, readAt },
      promoCode: at.promoCode,
    });
  }
  const invoice = typeof updated.latest_invoice === "object" ? updated.latest_invoice : null;
  const piRef = invoice?.payments?.data[0]?.payment.payment_intent;
  const pi = piRef && typeof piRef === "object" ? piRef : null;
  if (pi && (pi.status === "requires_action" || pi.status === "requires_confirmation")) {
    // Applied by Stripe when the customer confirms; the invoice's payment announces it
    // (`confirmAwaitingChange`).
    await deps.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`change:${change.row.id}`}))`);
      const inserted = await tx
        .insert(subscriptionChanges)
        .values({
          ...changeRow(change, user, at.promoCode),
          status: "awaiting_payment",
          stripeInvoiceId: invoice?.id ?? null,
          effectiveAt: readAt,
        })
        .returning();
      await recordAudit(
        tx,
        inserted.map((row) => planChangeAudit(row)),
      );
    });
    const subscription = await subscriptionBody(deps.db, change.row);
    return {
      outcome: "requires_action",
      subscription: { ...subscription, pending_change: null },
      clientSecret: invoice?.confirmation_secret?.client_secret ?? pi.client_secret,
    };
  }
  if (invoice?.id && invoice.status === "open") {
    await deps.stripe.invoices.voidInvoice(invoice.id, {}, { idempotencyKey: `${key}:void` });
  }
  if (at.promo) {
    const kept = at.sub.discounts.map((d) => ({ discount: typeof d === "string" ? d : d.id }));
    await deps.stripe.subscriptions.update(
      at.sub.id,
      { discounts: kept.length > 0 ? kept : "" },
      { idempotencyKey: `${key}:discount-back` },
    );
  }
  throw businessError(
    "payment_required",
    pi?.last_payment_error?.message ?? "Your card was declined.",
  );
}

/** The columns of a change's row that say what was asked. */
function changeRow(change: Change, user: User, promoCode: string | undefined) {
  return {
    userId: user.id,
    subscriptionId: change.row.id,
    planId: change.plan.id,
    quantity: change.quantity,
    promotionCode: promoCode ?? null,
  };
}

/**
 * Writes what Stripe answered, the change's row and its email in one transaction: the change now
 * (`snapshot` is the updated subscription) or scheduled (`scheduleId`, `effectiveAt`; the
 * subscription is read again to show its schedule). The email's cause is the request's key, so a
 * repeated request announces the change once.
 */
async function record(
  deps: Deps,
  change: Change,
  user: User,
  key: string,
  done: ({ snapshot: Snapshot } | { scheduleId: string; effectiveAt: Date }) & {
    promoCode: string | undefined;
  },
): Promise<ChangeResult> {
  const scheduled = "scheduleId" in done ? done : null;
  const snapshot =
    "snapshot" in done
      ? done.snapshot
      : {
          readAt: await dbClock(deps.db),
          sub: await deps.stripe.subscriptions.retrieve(change.row.stripeSubscriptionId, {
            expand: DISCOUNT_EXPAND,
          }),
        };
  const applied = await deps.db.transaction(async (tx) => {
    // Two change requests for one subscription record one after the other: the later one
    // replaces the earlier scheduled row instead of colliding with it on the unique index.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`change:${change.row.id}`}))`);
    const applied = await applySubscription(tx, snapshot, {
      user,
      plans: [change.plan, change.from],
    });
    await endScheduledChange(tx, change.row.id, "replaced");
    const inserted = await tx
      .insert(subscriptionChanges)
      .values({
        ...changeRow(change, user, done.promoCode),
        status: scheduled ? "scheduled" : "applied",
        stripeScheduleId: scheduled?.scheduleId ?? null,
        effectiveAt: scheduled?.effectiveAt ?? snapshot.readAt,
      })
      .returning();
    await recordAudit(
      tx,
      inserted.map((row) => planChangeAudit(row)),
    );
    await queueChangeEmail(tx, deps, {
      id: key,
      user,
      planName: change.plan.name,
      seats: change.plan.perSeat ? change.quantity : null,
      scheduledFor: scheduled?.effectiveAt ?? null,
    });
    return applied;
  });
  const subscription = await subscriptionBody(deps.db, applied.row);
  return {
    outcome: scheduled ? "scheduled" : "changed",
    subscription: { ...subscription, pending_change: await pendingChangeOf(deps.db, applied.row) },
    clientSecret: null,
  };
}

/** DELETE change/: drops the scheduled change; the subscription renews on its current plan. */
export function cancelScheduledChange(
  deps: Deps,
  userId: string,
): Promise<SubscriptionBody & { pending_change: null }> {
  return withBillingWrite(deps.db, userId, "cancel-change", () => dropChange(deps, userId));
}

async function dropChange(
  deps: Deps,
  userId: string,
): Promise<SubscriptionBody & { pending_change: null }> {
  const { row } = await changeableSubscription(deps.db, userId);
  const pending = await pendingChangeOf(deps.db, row);
  if (!pending || !row.stripeScheduleId) {
    throw businessError("not_found", "No plan change is scheduled.");
  }
  await releaseSchedule(
    deps.stripe,
    row.stripeScheduleId,
    `change:${row.id}:${row.stripeSyncedAt.getTime()}:release`,
  );
  const readAt = await dbClock(deps.db);
  const sub = await deps.stripe.subscriptions.retrieve(row.stripeSubscriptionId, {
    expand: DISCOUNT_EXPAND,
  });
  const applied = await deps.db.transaction(async (tx) => {
    const applied = await applySubscription(tx, { sub, readAt });
    await endScheduledChange(tx, row.id, "canceled");
    return applied;
  });
  return { ...(await subscriptionBody(deps.db, applied.row)), pending_change: null };
}

/**
 * Called with every paid invoice, in the transaction that records it: when it is the proration
 * invoice of a change that waited for 3-D Secure, Stripe has applied that change, so its row is
 * `applied` and the "plan changed" email is queued (its cause is the row: once, whichever of
 * `invoice.paid` and `invoice.payment_succeeded` comes first, however often).
 */
export async function confirmAwaitingChange(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  invoiceId: string,
  user: User,
): Promise<void> {
  const [found] = await tx
    .update(subscriptionChanges)
    .set({ status: "applied", updatedAt: new Date() })
    .where(
      and(
        eq(subscriptionChanges.stripeInvoiceId, invoiceId),
        eq(subscriptionChanges.status, "awaiting_payment"),
      ),
    )
    .returning();
  if (!found) return;
  await recordAudit(tx, [planChangeAudit(found, "awaiting_payment")]);
  const [plan] = await tx.select().from(plans).where(eq(plans.id, found.planId));
  await queueChangeEmail(tx, deps, {
    id: found.id,
    user,
    planName: plan?.name ?? "subscription",
    seats: plan?.perSeat ? found.quantity : null,
    scheduledFor: null,
  });
}
