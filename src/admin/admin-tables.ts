import { sql } from "drizzle-orm";
import {
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * The first answer to each admin write sent with an `Idempotency-Key` (docs/operations.md,
 * 'Support tasks'): a retried request gets the same answer instead of a second effect at Stripe.
 * Kept ADMIN_IDEMPOTENCY_KEY_TTL, then purged by the hourly job.
 */
export const adminIdempotencyKeys = pgTable(
  "admin_idempotency_keys",
  {
    /** The staff user who sent it: keys are per caller, as Stripe's are per account. */
    staffUserId: uuid().notNull(),
    key: text().notNull(),
    /** SHA-256 of the method, path and JSON body: the same key on another request is refused. */
    fingerprint: text().notNull(),
    /** The answer's status; null while the first request is still running. */
    statusCode: integer(),
    /** The answer's JSON body, replayed as it was. */
    body: jsonb().$type<unknown>(),
    createdAt: timestamp({ withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [primaryKey({ columns: [t.staffUserId, t.key] }), index().on(t.createdAt)],
);

export type IdempotencyRow = typeof adminIdempotencyKeys.$inferSelect;
