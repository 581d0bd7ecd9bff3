import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { plans } from "./billing-tables.ts";

/**
 * Stripe Checkout Sessions we opened for users (docs/checkout-and-invoices.md). At most one is
 * open per user (a partial unique index): a second request for the same plan and quantity answers
 * the open one, another plan or quantity expires it first, so a user can never pay two open
 * sessions; create/ expires it too before it subscribes (src/billing/subscribe-guard.ts). The row is written before Stripe is called and its id seeds the create's idempotency
 * key, so two concurrent requests (or a retry after a crash) get the one same session.
 */
export const checkoutSessions = pgTable(
  "checkout_sessions",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull(),
    planId: uuid()
      .notNull()
      .references(() => plans.id),
    quantity: integer().notNull().default(1),
    allowPromotionCodes: boolean().notNull().default(false),
    /** The URLs the session was created with: a replayed create must send the same parameters. */
    successUrl: text().notNull(),
    cancelUrl: text().notNull(),
    /** Null until Stripe answered the create (a request in flight, or one that crashed). */
    stripeSessionId: text().unique(),
    url: text(),
    /** open → complete | expired (Stripe's statuses; `expired` also when we replaced it). */
    status: text().notNull().default("open"),
    expiresAt: timestamp({ withTimezone: true }),
    stripeSubscriptionId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("checkout_sessions_one_open_idx").on(t.userId).where(sql`${t.status} = 'open'`),
  ],
);

/** What an invoice line says, summarized for the invoices page. */
export interface InvoiceLineSummary {
  description: string | null;
  /** Minor units. */
  amount: number;
  quantity: number | null;
  period_start: string | null;
  period_end: string | null;
}

/**
 * A projection of the users' Stripe invoices, written from `invoice.*` events under the version
 * marker (docs/architecture.md, 'The version marker'), so listing them needs no Stripe call.
 */
export const invoices = pgTable(
  "invoices",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull(),
    stripeInvoiceId: text().notNull().unique(),
    stripeCustomerId: text().notNull(),
    stripeSubscriptionId: text(),
    /** Null while a draft: Stripe numbers an invoice when it is finalized. */
    number: text(),
    /** Stripe's: draft, open, paid, uncollectible, void. */
    status: text().notNull(),
    billingReason: text(),
    /** Minor units, in `currency`. */
    total: bigint({ mode: "number" }).notNull(),
    amountDue: bigint({ mode: "number" }).notNull(),
    amountPaid: bigint({ mode: "number" }).notNull(),
    amountRemaining: bigint({ mode: "number" }).notNull(),
    currency: text().notNull(),
    periodStart: timestamp({ withTimezone: true }),
    periodEnd: timestamp({ withTimezone: true }),
    lines: jsonb().$type<InvoiceLineSummary[]>().notNull().default([]),
    hostedInvoiceUrl: text(),
    invoicePdf: text(),
    stripeCreatedAt: timestamp({ withTimezone: true }).notNull(),
    /** The version marker: a write carrying an older read is refused. */
    stripeSyncedAt: timestamp({ withTimezone: true, precision: 6 }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("invoices_user_history_idx").on(t.userId, t.stripeCreatedAt.desc(), t.id.desc())],
);
