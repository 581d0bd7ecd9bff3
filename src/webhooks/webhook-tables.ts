import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The webhook ledger (docs/architecture.md, 'The webhook ledger'): every verified event, once,
 * keyed by its sender's event id, with its processing state. Redeliveries hit the primary key and
 * change nothing. The name (table and export) is from when the ledger served Stripe alone;
 * renaming the table would be a migration that changes nothing for anyone.
 */
export const stripeEvents = pgTable(
  "stripe_events",
  {
    /** The sender's event id: the dedupe key. */
    id: text().primaryKey(),
    type: text().notNull(),
    /** The event's `created` at its sender. */
    created: timestamp({ withTimezone: true }).notNull(),
    /** The version of the sender's schema the payload was rendered with, if it says. */
    apiVersion: text(),
    /** The verified event as received. */
    payload: jsonb().notNull(),
    receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp({ withTimezone: true }),
    /** Processing attempts so far (replays included). */
    attempts: integer().notNull().default(0),
    /** pending → processed | ignored, or retrying → failed (dead-lettered; replay from the CLI). */
    status: text().notNull().default("pending"),
    lastError: text(),
  },
  (t) => [index().on(t.status, t.receivedAt)],
);
