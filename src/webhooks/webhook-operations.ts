import { and, count, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor, Tx } from "../platform/db/client.ts";
import { filteredPage } from "../platform/db/prepared.ts";
import type { JobDeps } from "../platform/feature.ts";
import {
  dropDeadLetters,
  type JobRecord,
  jobsOfPayload,
  type QueueAccess,
} from "../platform/jobs/dead-letters.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import { PROCESS_EVENT_QUEUE, processEventQueue } from "./webhook-jobs.ts";
import type { StoredEvent } from "./webhook-ledger.ts";
import { stripeEvents } from "./webhook-tables.ts";

// The ledger for operators (the admin API): events by type and status, one event with the jobs
// that processed it, and replay. A replay queues the event's processing job again, so it runs on
// the worker through the same handler, batching and version marker as a delivery
// (docs/architecture.md, 'The webhook ledger'); `webhooks:replay` runs it in the CLI's process.

/** What an event's `status` can be (webhook-tables.ts). */
export const EVENT_STATUSES = ["pending", "processed", "ignored", "retrying", "failed"] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

export interface EventFilter {
  type?: string | undefined;
  status?: EventStatus | undefined;
}

/** Stored events, newest first, `limit` from `offset`, and how many match. */
export async function findEvents(
  db: Executor,
  filter: EventFilter,
  page: { limit: number; offset: number },
): Promise<{ count: number; events: StoredEvent[] }> {
  // One prepared statement per combination of filters, their values bound (prepared.ts).
  const filters = { type: filter.type, status: filter.status };
  const where = () =>
    and(
      filter.type ? eq(stripeEvents.type, sql.placeholder("type")) : undefined,
      filter.status ? eq(stripeEvents.status, sql.placeholder("status")) : undefined,
    );
  const { count: total, rows } = await filteredPage(db, "staff_events", filters, page, {
    count: (e, name) => e.select({ n: count() }).from(stripeEvents).where(where()).prepare(name),
    rows: (e, name) =>
      e
        .select()
        .from(stripeEvents)
        .where(where())
        .orderBy(desc(stripeEvents.receivedAt), desc(stripeEvents.id))
        .limit(sql.placeholder("limit"))
        .offset(sql.placeholder("offset"))
        .prepare(name),
  });
  return { count: total, events: rows };
}

export async function findEvent(db: Executor, id: string): Promise<StoredEvent | undefined> {
  const [event] = await db.select().from(stripeEvents).where(eq(stripeEvents.id, id));
  return event;
}

/** The processing jobs of an event (each delivery's and replay's, with their errors), oldest first. */
export function eventJobs(db: Executor, id: string): Promise<JobRecord[]> {
  return jobsOfPayload(db, PROCESS_EVENT_QUEUE, { eventId: id });
}

/** The ids of the failed (dead-lettered) events, oldest first, at most `limit`. */
export async function failedEventIds(db: Executor, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: stripeEvents.id })
    .from(stripeEvents)
    .where(eq(stripeEvents.status, "failed"))
    .orderBy(stripeEvents.receivedAt, stripeEvents.id)
    .limit(limit);
  return rows.map((r) => r.id);
}

export interface Requeued {
  id: string;
  type: string;
  /** The status it had before. */
  was: string;
  /** False when this replay was queued already (a retried request): nothing new was queued. */
  queued: boolean;
}

/**
 * Sets the events back to `pending` and queues their processing job, in `tx`. The job's key is the
 * event and its attempt count, so a retried request queues nothing more, while a replay after the
 * last one ran queues a new job. Answers the events found, in the order of `ids`.
 */
export async function requeueEvents(
  tx: Tx,
  jobs: Jobs<JobDeps>,
  ids: string[],
): Promise<Requeued[]> {
  if (ids.length === 0) return [];
  const rows = await tx
    .select({ id: stripeEvents.id, type: stripeEvents.type, status: stripeEvents.status })
    .from(stripeEvents)
    .where(inArray(stripeEvents.id, ids))
    .for("update");
  const updated = await tx
    .update(stripeEvents)
    .set({ status: "pending", processedAt: null })
    .where(inArray(stripeEvents.id, ids))
    .returning({ id: stripeEvents.id, attempts: stripeEvents.attempts });
  const attempts = new Map(updated.map((r) => [r.id, r.attempts]));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const requeued: Requeued[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    if (!row) continue;
    const queued = await jobs.enqueue(
      tx,
      processEventQueue,
      { eventId: id },
      { key: `${id}:replay:${attempts.get(id) ?? 0}` },
    );
    requeued.push({ id, type: row.type, was: row.status, queued });
  }
  return requeued;
}

/**
 * Removes the dead letters of replayed events: their processing is queued again, so they no longer
 * stand for work left undone. Run after the replay committed.
 */
export async function dropEventDeadLetters(
  db: Executor,
  jobs: QueueAccess,
  ids: string[],
): Promise<void> {
  for (const id of ids) await dropDeadLetters(db, jobs, PROCESS_EVENT_QUEUE, { eventId: id });
}
