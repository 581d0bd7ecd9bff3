import { randomUUID } from "node:crypto";
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { reconcileCheckpoints } from "./reconcile-tables.ts";

// Reconciliation's one row (reconcile-tables.ts): where the last run stopped, and the lease that
// lets one run at a time work, whichever worker or CLI started it.

const SOURCE = "stripe";

/**
 * How long a lease lasts without being renewed. Each page done renews it; a run that crashed
 * leaves it to expire, after which the next run takes over from the last checkpoint.
 */
export const LEASE_SECONDS = 600;

export type ListKind = "subscriptions" | "invoices" | "refunds";

export interface Checkpoint {
  fullPassDone: boolean;
  listKind: ListKind | null;
  listCursor: string | null;
  eventsSince: number | null;
}

/** Another run holds the lease: this one does nothing. */
export class ReconcileBusy extends Error {
  override name = "ReconcileBusy";
}

const LIST_KINDS: readonly string[] = ["subscriptions", "invoices", "refunds"];
const asListKind = (v: string | null): ListKind | null =>
  v !== null && LIST_KINDS.includes(v) ? (v as ListKind) : null;

const leaseEnd = sql`now() + make_interval(secs => ${LEASE_SECONDS})`;

/** The lease of one run; every write of the checkpoint goes through it and renews it. */
export class Lease {
  readonly #db: Executor;
  readonly #owner: string;

  private constructor(db: Executor, owner: string) {
    this.#db = db;
    this.#owner = owner;
  }

  /** Takes the lease, or throws ReconcileBusy while another run's has not expired. */
  static async take(db: Executor): Promise<{ lease: Lease; checkpoint: Checkpoint }> {
    const owner = randomUUID();
    const t = reconcileCheckpoints;
    const [row] = await db
      .insert(t)
      .values({ source: SOURCE, leaseOwner: owner, leaseUntil: leaseEnd })
      .onConflictDoUpdate({
        target: t.source,
        set: { leaseOwner: owner, leaseUntil: leaseEnd },
        setWhere: or(isNull(t.leaseUntil), lt(t.leaseUntil, sql`now()`)),
      })
      .returning();
    if (!row) throw new ReconcileBusy("another reconciliation run is in progress");
    return { lease: new Lease(db, owner), checkpoint: checkpointOf(row) };
  }

  /** Saves where the run stands; throws if the lease was lost (expired and taken by another). */
  async save(checkpoint: Partial<Checkpoint>): Promise<void> {
    const t = reconcileCheckpoints;
    const saved = await this.#db
      .update(t)
      .set({ ...checkpoint, leaseUntil: leaseEnd, updatedAt: sql`now()` })
      .where(and(eq(t.source, SOURCE), eq(t.leaseOwner, this.#owner)))
      .returning({ source: t.source });
    if (saved.length === 0) throw new ReconcileBusy("the reconciliation lease was lost");
  }

  async release(): Promise<void> {
    const t = reconcileCheckpoints;
    await this.#db
      .update(t)
      .set({ leaseOwner: null, leaseUntil: null })
      .where(and(eq(t.source, SOURCE), eq(t.leaseOwner, this.#owner)));
  }
}

/** The checkpoint without taking the lease (a dry run reads it and writes nothing). */
export async function readCheckpoint(db: Executor): Promise<Checkpoint> {
  const [row] = await db
    .select()
    .from(reconcileCheckpoints)
    .where(eq(reconcileCheckpoints.source, SOURCE));
  return row
    ? checkpointOf(row)
    : { fullPassDone: false, listKind: null, listCursor: null, eventsSince: null };
}

function checkpointOf(row: typeof reconcileCheckpoints.$inferSelect): Checkpoint {
  return {
    fullPassDone: row.fullPassDone,
    listKind: asListKind(row.listKind),
    listCursor: row.listCursor,
    eventsSince: row.eventsSince,
  };
}
