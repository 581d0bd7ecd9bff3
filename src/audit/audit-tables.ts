import { sql } from "drizzle-orm";
import { bigserial, index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * The audit trail: one row per billing transition, appended in the transaction that made the
 * change, never updated or deleted (docs/access.md, 'Audit trail').
 */
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    /** Whose billing changed; null when the transition is not one user's (a plan). */
    userId: uuid(),
    /** What happened: `subscription.created`, `subscription.status_changed`, `payment.recorded`, … */
    kind: text().notNull(),
    /** The object it happened to: `sub_…`, `in_…`, `re_…`, a plan change's id. */
    subjectId: text(),
    /** `user` | `admin` | `stripe_event` | `system`. */
    actorKind: text().notNull(),
    /** The user or staff user's id, the Stripe event's id, or the job's name. */
    actorId: text(),
    requestId: text(),
    reason: text(),
    /** The fields that changed, before and after (`{}` before a creation). */
    before: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    after: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp({ withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [index().on(t.userId, t.id), index().on(t.subjectId)],
);

export type AuditRow = typeof auditLog.$inferSelect;
