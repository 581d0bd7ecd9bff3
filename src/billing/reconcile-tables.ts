import { bigint, boolean, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Where reconciliation with Stripe stands (reconcile.ts; docs/operations.md, 'Reconciliation'):
 * one row per source ("stripe"), advanced as each page of Stripe's lists is done, so a run that
 * crashes or stops at its budget is continued by the next.
 */
export const reconcileCheckpoints = pgTable("billing_reconcile_checkpoints", {
  source: text().primaryKey(),
  /** The first run's pass over every subscription, invoice and refund is done. */
  fullPassDone: boolean().notNull().default(false),
  /** The list that pass is in (subscriptions, invoices, refunds) and the last object it did. */
  listKind: text(),
  listCursor: text(),
  /** Stripe's events created before this (unix seconds, Stripe's clock) have been reconciled. */
  eventsSince: bigint({ mode: "number" }),
  /** One run at a time across workers and the CLI: the run holding the lease, and until when. */
  leaseOwner: text(),
  leaseUntil: timestamp({ withTimezone: true }),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});
