import { Type } from "typebox";
import type { Config } from "../config.ts";
import type { Database } from "../platform/db/client.ts";
import { defineJob, type RetryPolicy } from "../platform/jobs/definitions.ts";
import type { Metrics } from "../platform/metrics.ts";
import { type EventsHandler, processStoredEvents } from "./webhook-ledger.ts";

export const PROCESS_EVENT_QUEUE = "webhooks.process";

/** The processing queue as intake enqueues into it (name and payload); the handler is injected. */
export const processEventQueue = {
  name: PROCESS_EVENT_QUEUE,
  payload: Type.Object({ eventId: Type.String({ minLength: 1 }) }),
};

/**
 * WEBHOOK_RETRY_LIMIT / WEBHOOK_RETRY_DELAY, doubling: a handler that fails because a service it
 * calls or the database hiccuped, or because what the event names is not there yet (billing's
 * case: docs/architecture.md, 'Owner resolution'), gets several chances spread over a while before
 * the event is dead-lettered for an operator.
 */
export function webhookRetryPolicy(config: Config): Partial<RetryPolicy> {
  return {
    limit: config.WEBHOOK_RETRY_LIMIT,
    delaySeconds: config.WEBHOOK_RETRY_DELAY,
    backoff: true,
  };
}

/**
 * Processes stored events through `handler`, a batch at a time per slot (`processStoredEvents`).
 * Safe to run twice: a finished event is skipped, and the handler treats "already done" as success.
 */
export function processEventJob<D>(handler: EventsHandler<D>) {
  return defineJob({
    ...processEventQueue,
    concurrency: 4,
    batch: {
      size: 20,
      handler: (jobs, deps: D & { database: Database; metrics: Metrics }) =>
        processStoredEvents(
          { db: deps.database.db, metrics: deps.metrics },
          (events, batch) => handler(deps, events, batch),
          jobs.map(({ payload, job }) => ({ eventId: payload.eventId, final: job.lastAttempt })),
        ),
    },
  });
}
