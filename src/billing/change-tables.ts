import { sql } from "drizzle-orm";
import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { plans, subscriptions } from "./billing-tables.ts";

/**
 * Plan changes asked for through `POST /api/subscriptions/change/` (docs/architecture.md,
 * 'Scheduled plan changes'). Stripe carries the change itself (the update, or the schedule's next
 * phase); a row records what was asked, so status can show a scheduled change and the emails go
 * out once per change. A scheduled row is shown only while the projection still shows its
 * schedule and the period it ends, so what Stripe did always wins over what the row says.
 */
export const subscriptionChanges = pgTable(
  "subscription_changes",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull(),
    subscriptionId: uuid()
      .notNull()
      .references(() => subscriptions.id),
    planId: uuid()
      .notNull()
      .references(() => plans.id),
    quantity: integer().notNull(),
    /** The promotion code as the customer typed it, when one came with the change. */
    promotionCode: text(),
    /**
     * applied (took effect at once) | awaiting_payment (its proration needs 3-D Secure; applied
     * when that invoice is paid) | scheduled | replaced | canceled (by the user or a cancellation).
     */
    status: text().notNull(),
    /** The proration invoice of an `awaiting_payment` change: its payment applies the change. */
    stripeInvoiceId: text(),
    /** The schedule whose next phase carries a scheduled change. */
    stripeScheduleId: text(),
    /** When it takes (or took) effect: now, or the end of the period it was scheduled in. */
    effectiveAt: timestamp({ withTimezone: true }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index().on(t.subscriptionId, t.createdAt),
    uniqueIndex("subscription_changes_one_scheduled_idx")
      .on(t.subscriptionId)
      .where(sql`${t.status} = 'scheduled'`),
  ],
);

/**
 * One row per user while a request of theirs is writing their subscription at Stripe (change,
 * cancel the scheduled change, cancel, reactivate: src/billing/billing-lock.ts). A lease, not a
 * lock held on a connection: nothing waits on the database during Stripe's round trips, and the
 * row of a process that died is taken over once `expiresAt` (the database's clock) has passed.
 */
export const billingWriteLocks = pgTable("billing_write_locks", {
  userId: uuid().primaryKey(),
  /** The request holding it: only its holder deletes the row. */
  holder: uuid().notNull(),
  /** What the holder is doing (`change`, `cancel`, …), for the operator reading the table. */
  operation: text().notNull(),
  acquiredAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp({ withTimezone: true }).notNull(),
});
