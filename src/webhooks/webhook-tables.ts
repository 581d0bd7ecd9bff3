import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The webhook ledger (docs/architecture.md, 'The webhook ledger'): every verified Stripe event,
 * once, keyed by Stripe's event id, with its processing state. Redeliveries hit the primary key and
 * change nothing.
 */
export const stripeEvents = pgTable(
  "stripe_events",
  {
    /** `evt_…`, Stripe's id: the dedupe key. */
    id: text().primaryKey(),
    type: text().notNull(),
    /** The event's `created` at Stripe. */
    created: timestamp({ withTimezone: true }).notNull(),
    /** The API version `data.object` was rendered with. */
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
