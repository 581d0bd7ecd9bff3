import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * What users can subscribe to: one row per Stripe recurring price. Amounts are integers in the
 * currency's minor unit (docs/architecture.md, 'Money'); `plans:sync` keeps the rows in step with
 * Stripe.
 */
export const plans = pgTable(
  "plans",
  {
    id: uuid().primaryKey().defaultRandom(),
    name: text().notNull(),
    description: text().notNull().default(""),
    stripePriceId: text().notNull().unique(),
    stripeProductId: text().notNull(),
    /** Minor units: 999 = 9.99 USD, 1000 = 1000 JPY, 1250 = 1.250 KWD. */
    amount: bigint({ mode: "number" }).notNull(),
    /** Lowercase ISO code, as Stripe writes it. */
    currency: text().notNull(),
    /** "month" | "year". */
    interval: text().notNull(),
    features: jsonb().$type<string[]>().notNull().default([]),
    isActive: boolean().notNull().default(true),
    /**
     * Free days before the first charge; 0 = no trial. Stripe's ceiling is 730. Mirrors the
     * price's `trial_days` metadata (docs/plans.md).
     */
    trialDays: integer().notNull().default(0),
    /** Billed per seat: a subscription's quantity may range over min..max (null = unbounded). */
    perSeat: boolean().notNull().default(false),
    minQuantity: integer().notNull().default(1),
    maxQuantity: integer(),
    /**
     * What the plan grants: flags and numeric limits (`{"projects": 10, "api_access": true}`).
     * Mirrors the price's `entitlements` metadata (docs/access.md).
     */
    entitlements: jsonb().$type<Record<string, boolean | number>>().notNull().default({}),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index().on(t.isActive, t.amount),
    check("plans_trial_days_range", sql`${t.trialDays} between 0 and 730`),
    check("plans_min_quantity_positive", sql`${t.minQuantity} >= 1`),
    check(
      "plans_max_quantity_at_least_min",
      sql`${t.maxQuantity} is null or ${t.maxQuantity} >= ${t.minQuantity}`,
    ),
  ],
);

/** Stripe's final subscription statuses: nothing is billed or granted after them. */
export const ENDED_STATUSES = ["canceled", "incomplete_expired"] as const;

/**
 * A projection of Stripe subscriptions (docs/architecture.md, 'The version marker'): one row per
 * Stripe subscription, kept after it ends, so a user's history stays. Users are referenced by id
 * without a foreign key: billing reads accounts through its service, never its tables.
 */
export const subscriptions = pgTable(
  "subscriptions",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull(),
    planId: uuid().references(() => plans.id),
    stripeSubscriptionId: text().notNull().unique(),
    stripeCustomerId: text().notNull(),
    /** Stripe's status, verbatim: active, trialing, past_due, incomplete, canceled, … */
    status: text().notNull(),
    /** The item's period (the field moved from the subscription to its items in basil). */
    currentPeriodStart: timestamp({ withTimezone: true }),
    currentPeriodEnd: timestamp({ withTimezone: true }),
    cancelAtPeriodEnd: boolean().notNull().default(false),
    cancelAt: timestamp({ withTimezone: true }),
    canceledAt: timestamp({ withTimezone: true }),
    endedAt: timestamp({ withTimezone: true }),
    trialStart: timestamp({ withTimezone: true }),
    trialEnd: timestamp({ withTimezone: true }),
    /** The item's quantity: seats on a per-seat plan, 1 otherwise. */
    quantity: integer().notNull().default(1),
    /** The item's price per unit, minor units (null for a price without a unit amount). */
    unitAmount: bigint({ mode: "number" }),
    /** The subscription schedule managing it (a scheduled plan change), as Stripe last showed. */
    stripeScheduleId: text(),
    /**
     * Its first discount as `SubscriptionDiscount` (subscription-discounts.ts), or null. A snapshot
     * read without the discounts expanded cannot say, and keeps what is stored.
     */
    discount: jsonb(),
    /**
     * False while the first payment is outstanding, and for good when it never succeeded (an
     * `incomplete_expired` one, or one we canceled because its first charge failed). A user's
     * current subscription is their newest started or still-incomplete one.
     */
    started: boolean().notNull().default(false),
    /** Stripe's `created`, in whole seconds: two subscriptions of one user can share it. */
    stripeCreatedAt: timestamp({ withTimezone: true }).notNull(),
    /**
     * Whether Stripe's status is a final one. Derived by PostgreSQL, so the current-subscription
     * index can put every live subscription before every ended one.
     */
    ended: boolean()
      .notNull()
      .generatedAlwaysAs(
        sql`status in (${sql.raw(ENDED_STATUSES.map((s) => `'${s}'`).join(", "))})`,
      ),
    /**
     * Order of arrival in this table: unique, so it settles which of two subscriptions with the
     * same status class and the same `created` second is current (a random uuid would not).
     */
    seq: bigint({ mode: "number" }).notNull().generatedAlwaysAsIdentity(),
    /**
     * The version marker: when the Stripe snapshot this row was written from was read (the start
     * of the API request that returned it, on the database clock). A write carrying an older
     * snapshot is refused, so a late or replayed event never rolls the row back.
     */
    stripeSyncedAt: timestamp({ withTimezone: true, precision: 6 }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  // The order of `currentSubscription`: live first, then newest created, then latest arrived.
  (t) => [
    index("subscriptions_user_current_idx").on(
      t.userId,
      t.ended,
      t.stripeCreatedAt.desc(),
      t.seq.desc(),
    ),
  ],
);

/**
 * One subscribe request in flight per user: the row is the lock that makes concurrent creates
 * produce one Stripe subscription (docs/architecture.md, 'One live subscription per user'), and its
 * id seeds the idempotency keys of the request's Stripe writes.
 */
export const subscriptionCheckouts = pgTable(
  "subscription_checkouts",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull(),
    planId: uuid()
      .notNull()
      .references(() => plans.id),
    /** pending → succeeded | failed | abandoned (a pending row older than the timeout). */
    status: text().notNull().default("pending"),
    stripeSubscriptionId: text(),
    error: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("subscription_checkouts_one_pending_idx")
      .on(t.userId)
      .where(sql`${t.status} = 'pending'`),
  ],
);

/**
 * Payment history. Stripe redelivers events, so each fact has a unique key: one `succeeded` row
 * per invoice, one `failed` row per failed attempt of an invoice, one `refunded` row per refund.
 */
export const payments = pgTable(
  "payments",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull(),
    subscriptionId: uuid().references(() => subscriptions.id),
    stripeInvoiceId: text(),
    stripePaymentIntentId: text(),
    stripeChargeId: text(),
    stripeRefundId: text(),
    /** Minor units; a refund row holds the refunded amount. */
    amount: bigint({ mode: "number" }).notNull(),
    currency: text().notNull(),
    /** succeeded | failed | pending | refunded */
    status: text().notNull(),
    /** The invoice's attempt_count for a failed row: separates one failed attempt from the next. */
    attempt: integer().notNull().default(0),
    description: text().notNull().default(""),
    /** The invoice's subscription line: its quantity and price per unit (minor units). */
    quantity: integer(),
    unitAmount: bigint({ mode: "number" }),
    /** What the invoice's discounts took off, minor units, and the promotion code, if any. */
    discountAmount: bigint({ mode: "number" }).notNull().default(0),
    promotionCode: text(),
    failureMessage: text(),
    /** When it happened at Stripe (not when we heard of it): history is ordered by it. */
    occurredAt: timestamp({ withTimezone: true }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // A user's history in exactly the order the payments page reads it (nulls first, as a plain
    // ORDER BY … DESC sorts): page 1 reads 20 entries instead of sorting the user's whole
    // history, and a deep page finds its 20 ids by an index-only scan (see listPayments).
    index("payments_user_history_idx").on(
      t.userId,
      t.occurredAt.desc().nullsFirst(),
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    uniqueIndex("payments_one_success_per_invoice_idx")
      .on(t.stripeInvoiceId)
      .where(sql`${t.status} = 'succeeded'`),
    uniqueIndex("payments_one_failure_per_attempt_idx")
      .on(t.stripeInvoiceId, t.attempt)
      .where(sql`${t.status} = 'failed'`),
    uniqueIndex("payments_one_row_per_refund_idx")
      .on(t.stripeRefundId)
      .where(sql`${t.status} = 'refunded'`),
  ],
);
