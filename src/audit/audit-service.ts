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
  /** Who caused this one, when it is not the actor of the work in progress (a batch's events). */
  context?: AuditContext;
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
 * of the work in progress (`withActor`, `withDefaultActor`) unless `context` or the entry's own
 * `context` names another.
 */
export async function recordAudit(
  tx: Tx,
  entries: AuditEntry[],
  context: AuditContext = currentActor(),
): Promise<void> {
  if (entries.length === 0) return;
  await tx.insert(auditLog).values(
    entries.map((entry) => ({
      userId: entry.userId,
      kind: entry.kind,
      subjectId: entry.subjectId ?? null,
      before: entry.before ?? {},
      after: entry.after ?? {},
      ...actorColumns(entry.context ?? context),
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

/**
 * A row as its user sees it: the actor's id except a staff user's, and the request's id only when
 * it was the user's own request (another actor's requests are not theirs to see).
 */
export function auditBody(row: AuditRow, viewer: string) {
  const own = row.actorKind === "user" && row.actorId === viewer;
  return {
    id: row.id,
    kind: row.kind,
    subject_id: row.subjectId,
    actor: { kind: row.actorKind, id: row.actorKind === "admin" ? null : row.actorId },
    request_id: own ? row.requestId : null,
    reason: row.reason,
    before: row.before,
    after: row.after,
    created_at: row.createdAt.toISOString(),
  };
}
