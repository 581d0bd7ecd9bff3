import { integer, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/**
 * One row per email the system decided to send: the outbox and the operator's log in one. The
 * message is rendered when it is queued, so a retry sends exactly what the cause produced.
 */
export const emails = pgTable(
  "emails",
  {
    id: uuid().primaryKey().defaultRandom(),
    recipient: text().notNull(),
    template: text().notNull(),
    /** What caused the email (a user id for a welcome, an invoice id for a receipt, …). */
    causeKey: text().notNull(),
    /** The user it concerns, when there is one; no foreign key, the platform knows no features. */
    userId: uuid(),
    subject: text().notNull(),
    textBody: text().notNull(),
    htmlBody: text().notNull(),
    /** queued → sent, or queued → (retrying) → failed once the retries are spent (dead-lettered). */
    status: text().notNull().default("queued"),
    attempts: integer().notNull().default(0),
    lastError: text(),
    sentAt: timestamp({ withTimezone: true }),
    /** The Message-ID the SMTP server accepted, to trace a delivery in the provider's logs. */
    providerMessageId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  // A cause produces at most one email of each template, however often it is seen.
  (t) => [unique().on(t.template, t.causeKey)],
);
