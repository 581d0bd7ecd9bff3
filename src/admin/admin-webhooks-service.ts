import { recordAudit } from "../audit/index.ts";
import type { Db } from "../platform/db/client.ts";
import type { JobDeps } from "../platform/feature.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import type { Logger } from "../platform/logging.ts";
import {
  dropEventDeadLetters,
  type EventFilter,
  eventJobs,
  failedEventIds,
  findEvent,
  findEvents,
  type Requeued,
  requeueEvents,
  type StoredEvent,
} from "../webhooks/index.ts";

// The webhook ledger for staff: events by type and status, one event with its processing jobs,
// and replay (one event, or every failed one). A replay queues the event's processing job again
// (webhooks' `requeueEvents`), so the worker runs it through the same handler and ordering guards
// as a delivery; an event that then succeeds is `processed`.

export interface AdminWebhooksDeps {
  db: Db;
  jobs: Jobs<JobDeps>;
  logger: Logger;
}

export interface EventSummaryBody {
  id: string;
  type: string;
  status: string;
  attempts: number;
  last_error: string | null;
  created: string;
  received_at: string;
  processed_at: string | null;
}

export function eventSummaryBody(event: StoredEvent): EventSummaryBody {
  return {
    id: event.id,
    type: event.type,
    status: event.status,
    attempts: event.attempts,
    last_error: event.lastError,
    created: event.created.toISOString(),
    received_at: event.receivedAt.toISOString(),
    processed_at: event.processedAt?.toISOString() ?? null,
  };
}

export async function listAdminEvents(
  deps: Pick<AdminWebhooksDeps, "db">,
  filter: EventFilter,
  page: { limit: number; offset: number },
): Promise<{ count: number; results: EventSummaryBody[] }> {
  const { count, events } = await findEvents(deps.db, filter, page);
  return { count, results: events.map(eventSummaryBody) };
}

const notFound = () => businessError("not_found", "Event not found.");

/** One event: its summary, payload and processing jobs (each attempt's state and error). */
export async function adminEventDetail(deps: Pick<AdminWebhooksDeps, "db">, id: string) {
  const [event, jobs] = await Promise.all([findEvent(deps.db, id), eventJobs(deps.db, id)]);
  if (!event) throw notFound();
  return {
    ...eventSummaryBody(event),
    api_version: event.apiVersion,
    payload: event.payload,
    jobs: jobs.map((job) => ({
      id: job.id,
      queue: job.queue,
      state: job.state,
      retry_count: job.retryCount,
      error: job.error,
      created_at: job.createdAt.toISOString(),
      started_at: job.startedAt?.toISOString() ?? null,
      completed_at: job.completedAt?.toISOString() ?? null,
    })),
  };
}

/** Queues the events again and audits each new replay (`admin.webhook_replayed`), in one transaction. */
async function replay(deps: AdminWebhooksDeps, ids: string[]): Promise<Requeued[]> {
  const requeued = await deps.db.transaction(async (tx) => {
    const rows = await requeueEvents(tx, deps.jobs, ids);
    await recordAudit(
      tx,
      rows
        .filter((r) => r.queued)
        .map((r) => ({
          userId: null,
          kind: "admin.webhook_replayed",
          subjectId: r.id,
          before: { status: r.was },
          after: { status: "pending" },
        })),
    );
    return rows;
  });
  try {
    await dropEventDeadLetters(
      deps.db,
      deps.jobs,
      requeued.map((r) => r.id),
    );
  } catch (err) {
    // The replay is queued; a dead letter left behind only lists work that is being redone.
    deps.logger.warn({ err }, "admin replay: dead letters of replayed events were not removed");
  }
  return requeued;
}

export interface ReplayBody {
  id: string;
  type: string;
  status: "pending";
  /** The status it had before the replay. */
  previous_status: string;
}

const replayBody = (r: Requeued): ReplayBody => ({
  id: r.id,
  type: r.type,
  status: "pending",
  previous_status: r.was,
});

/** Replays one event, whatever its state (as `webhooks:replay` does). */
export async function replayAdminEvent(deps: AdminWebhooksDeps, id: string): Promise<ReplayBody> {
  const [replayed] = await replay(deps, [id]);
  if (!replayed) throw notFound();
  return replayBody(replayed);
}

/** At most this many failed events are replayed per request; `remaining` says how many wait. */
export const REPLAY_FAILED_LIMIT = 500;

/** Replays every failed (dead-lettered) event, oldest first, up to REPLAY_FAILED_LIMIT. */
export async function replayFailedEvents(
  deps: AdminWebhooksDeps,
): Promise<{ replayed: ReplayBody[]; remaining: number }> {
  const ids = await failedEventIds(deps.db, REPLAY_FAILED_LIMIT + 1);
  const batch = ids.slice(0, REPLAY_FAILED_LIMIT);
  const replayed = await replay(deps, batch);
  const { count } = await findEvents(deps.db, { status: "failed" }, { limit: 0, offset: 0 });
  return { replayed: replayed.map(replayBody), remaining: count };
}
