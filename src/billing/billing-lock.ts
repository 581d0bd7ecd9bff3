import { randomUUID } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { businessError } from "../platform/http/errors.ts";
import { billingWriteLocks } from "./change-tables.ts";

/**
 * Longer than any request that holds it (each Stripe call times out after 30 s and is retried
 * twice, src/billing/stripe-client.ts), short enough that a process that died holding it blocks
 * its user's billing writes for minutes, not for good.
 */
const LEASE_SECONDS = 300;

export const WRITE_IN_PROGRESS =
  "Another change to your subscription is in progress: try again when it has finished.";

/**
 * Runs `write` as the user's only billing write in flight (docs/architecture.md, 'One billing
 * write per user at a time'): a plan change, dropping a scheduled change, a cancellation, a
 * reactivation. Each reads the subscription, then writes it at Stripe; two at once would both act
 * on the same state (two proration invoices, a schedule created on a subscription being
 * canceled). `write` must read what it acts on after the lease is taken, so it sees what the
 * previous holder did. A second request while one runs is refused with a 409 at once rather than
 * queued behind Stripe's round trips.
 *
 * The lease is a row taken and given back in single statements, not an advisory lock held on a
 * session: that would pin a pooled connection (PGlite's only one) for the length of the Stripe
 * calls, and a waiter would pin another, so a burst could starve the pool the holder itself needs.
 */
export async function withBillingWrite<T>(
  db: Executor,
  userId: string,
  operation: string,
  write: () => Promise<T>,
): Promise<T> {
  const holder = randomUUID();
  // One statement: a free or expired row is taken, a live one is left as it is (and nothing comes
  // back). The primary key serializes two requests inserting at once.
  const taken = await db
    .insert(billingWriteLocks)
    .values({
      userId,
      holder,
      operation,
      expiresAt: sql`now() + make_interval(secs => ${LEASE_SECONDS})`,
    })
    .onConflictDoUpdate({
      target: billingWriteLocks.userId,
      set: {
        holder,
        operation,
        acquiredAt: sql`now()`,
        expiresAt: sql`now() + make_interval(secs => ${LEASE_SECONDS})`,
      },
      setWhere: sql`${billingWriteLocks.expiresAt} < now()`,
    })
    .returning({ holder: billingWriteLocks.holder });
  if (taken.length === 0) throw businessError("conflict", WRITE_IN_PROGRESS);
  try {
    return await write();
  } finally {
    await db
      .delete(billingWriteLocks)
      .where(and(eq(billingWriteLocks.userId, userId), eq(billingWriteLocks.holder, holder)));
  }
}
