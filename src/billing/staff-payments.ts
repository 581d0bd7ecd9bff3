import { and, count, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { filteredPage } from "../platform/db/prepared.ts";
import { payments } from "./billing-tables.ts";
import { formatMinor } from "./money.ts";
import { type PaymentBody, type PaymentRow, paymentBody } from "./payments-service.ts";

// Payments as staff see them (the admin API, src/admin/): every user's, filtered, with what has
// been refunded of each. A refund is recorded by the `charge.refunded` webhook, never by the
// request that asked Stripe for it (docs/architecture.md, 'Stripe is the source of truth').

/** What a payment row's `status` can be (billing-tables.ts). */
export const PAYMENT_STATUSES = ["succeeded", "failed", "pending", "refunded"] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export interface StaffPaymentFilter {
  userId?: string | undefined;
  status?: PaymentStatus | undefined;
}

export interface StaffPayment {
  row: PaymentRow;
  /** Minor units refunded of this payment's charge, as the recorded refunds say. */
  refunded: number;
}

export interface StaffPaymentBody extends PaymentBody {
  user_id: string;
  stripe_charge_id: string | null;
  stripe_refund_id: string | null;
  attempt: number;
  failure_message: string | null;
  amount_refunded: string;
}

export function staffPaymentBody({ row, refunded }: StaffPayment): StaffPaymentBody {
  return {
    ...paymentBody(row),
    user_id: row.userId,
    stripe_charge_id: row.stripeChargeId,
    stripe_refund_id: row.stripeRefundId,
    attempt: row.attempt,
    failure_message: row.failureMessage,
    amount_refunded: formatMinor(refunded, row.currency),
  };
}

const newestFirst = [desc(payments.occurredAt), desc(payments.createdAt), desc(payments.id)];

/** Payments newest first, `limit` from `offset`, and how many match. */
export async function listStaffPayments(
  db: Executor,
  filter: StaffPaymentFilter,
  page: { limit: number; offset: number },
): Promise<{ count: number; payments: StaffPayment[] }> {
  // One prepared statement per combination of filters, their values bound (prepared.ts).
  const filters = { user: filter.userId, status: filter.status };
  const where = () =>
    and(
      filter.userId ? eq(payments.userId, sql.placeholder("user")) : undefined,
      filter.status ? eq(payments.status, sql.placeholder("status")) : undefined,
    );
  const { count: total, rows } = await filteredPage(db, "staff_payments", filters, page, {
    count: (e, name) => e.select({ n: count() }).from(payments).where(where()).prepare(name),
    rows: (e, name) =>
      e
        .select()
        .from(payments)
        .where(where())
        .orderBy(...newestFirst)
        .limit(sql.placeholder("limit"))
        .offset(sql.placeholder("offset"))
        .prepare(name),
  });
  return { count: total, payments: await withRefunded(db, rows) };
}

/** One payment by id, with what has been refunded of it. */
export async function findStaffPayment(
  db: Executor,
  id: string,
): Promise<StaffPayment | undefined> {
  const rows = await db.select().from(payments).where(eq(payments.id, id));
  const [found] = await withRefunded(db, rows);
  return found;
}

/** Adds to each succeeded row the sum of the refund rows of its charge (one query). */
async function withRefunded(db: Executor, rows: PaymentRow[]): Promise<StaffPayment[]> {
  const charges = [
    ...new Set(
      rows.flatMap((r) => (r.status === "succeeded" && r.stripeChargeId ? [r.stripeChargeId] : [])),
    ),
  ];
  const sums =
    charges.length === 0
      ? []
      : await db
          .select({
            charge: payments.stripeChargeId,
            refunded: sql<string>`sum(${payments.amount})`.mapWith(Number),
          })
          .from(payments)
          .where(and(eq(payments.status, "refunded"), inArray(payments.stripeChargeId, charges)))
          .groupBy(payments.stripeChargeId);
  const byCharge = new Map(sums.map((s) => [s.charge, s.refunded]));
  return rows.map((row) => ({
    row,
    refunded:
      row.status === "succeeded" && row.stripeChargeId
        ? (byCharge.get(row.stripeChargeId) ?? 0)
        : 0,
  }));
}
