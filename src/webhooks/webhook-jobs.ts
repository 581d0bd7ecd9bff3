import { Type } from "typebox";
import type { Config } from "../config.ts";
import { defineJob, type RetryPolicy } from "../platform/jobs/definitions.ts";
import type { JobDeps } from "../services.ts";
import { processStoredEvents } from "./webhook-service.ts";

export const PROCESS_EVENT_QUEUE = "webhooks.process";

/**
 * WEBHOOK_RETRY_LIMIT / WEBHOOK_RETRY_DELAY, doubling: a handler that fails because Stripe or the
 * database hiccuped, or because the user is not linked yet (DESIGN §4.6), gets several chances
 * spread over a while before the event is dead-lettered for an operator.
 */
export function webhookRetryPolicy(config: Config): Partial<RetryPolicy> {
  return {
    limit: config.WEBHOOK_RETRY_LIMIT,
    delaySeconds: config.WEBHOOK_RETRY_DELAY,
    backoff: true,
  };
}

/** Processes stored Stripe events, a batch at a time per slot (`processStoredEvents`). Safe to run twice. */
export const processEventJob = defineJob({
  name: PROCESS_EVENT_QUEUE,
  payload: Type.Object({ eventId: Type.String({ minLength: 1 }) }),
  concurrency: 4,
  batch: {
    size: 20,
    handler: (jobs, deps: JobDeps) =>
      processStoredEvents(
        { ...billingDepsOf(deps), metrics: deps.metrics },
        jobs.map(({ payload, job }) => ({ eventId: payload.eventId, final: job.lastAttempt })),
      ),
  },
});

export function billingDepsOf(deps: JobDeps) {
  return {
    db: deps.database.db,
    stripe: deps.stripe.stripe,
    jobs: deps.jobs,
    config: deps.config,
  };
}
