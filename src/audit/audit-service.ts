import { desc, eq, sql } from "drizzle-orm";
import type { Executor, Tx } from "../platform/db/client.ts";
import { type AuditContext, currentActor } from "./audit-context.ts";
import { type AuditRow, auditLog } from "./audit-tables.ts";

/** One transition to record. */
export interface AuditEntry {
  userId: string | null;
  kind: string;
  subjectId?: string | null;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

function actorColumns(context: AuditContext) {
  const { actor } = context;
  const actorId =
    actor.kind === "stripe_event"
      ? actor.eventId
      : actor.kind === "system"
        ? actor.job
        : actor.userId;
  return {
    actorKind: actor.kind,
    actorId,
    requestId: context.requestId ?? null,
    reason: context.reason ?? null,
  };
}

/**
 * Appends transitions to the audit trail in `tx`, the transaction that made them, with the actor
 * of the work in progress (`withActor`) unless `context` names another.
 */
export async function recordAudit(
  tx: Tx,
  entries: AuditEntry[],
  context: AuditContext = currentActor(),
): Promise<void> {
  if (entries.length === 0) return;
  const actor = actorColumns(context);
  await tx.insert(auditLog).values(
    entries.map((entry) => ({
      userId: entry.userId,
      kind: entry.kind,
      subjectId: entry.subjectId ?? null,
      before: entry.before ?? {},
      after: entry.after ?? {},
      ...actor,
    })),
  );
}

/** A user's audit rows, newest first, `limit` at a time; `offset` pages back. */
export async function listAudit(
  db: Executor,
  filter: { userId: string; limit: number; offset?: number },
): Promise<{ count: number; rows: AuditRow[] }> {
  const where = eq(auditLog.userId, filter.userId);
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(auditLog)
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(filter.limit)
      .offset(filter.offset ?? 0),
    db.select({ count: sql<number>`count(*)::int` }).from(auditLog).where(where),
  ]);
  return { count: total?.count ?? 0, rows };
}
