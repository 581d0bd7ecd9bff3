import type { Feature, JobDeps } from "../platform/feature.ts";
import { webhookCommands } from "./webhook-cli.ts";
import { PROCESS_EVENT_QUEUE, processEventJob, webhookRetryPolicy } from "./webhook-jobs.ts";
import type { EventsHandler } from "./webhook-ledger.ts";
import { webhookModule } from "./webhook-module.ts";
import type { EventSource } from "./webhook-source.ts";

export type {
  Batch,
  EventsHandler,
  HandlerResult,
  LedgerEvent,
  Outcome,
  StoredEvent,
} from "./webhook-ledger.ts";
export {
  dropEventDeadLetters,
  EVENT_STATUSES,
  type EventFilter,
  type EventStatus,
  eventJobs,
  failedEventIds,
  findEvent,
  findEvents,
  type Requeued,
  requeueEvents,
} from "./webhook-operations.ts";
export { EventStore, type Intake, receiveEvent } from "./webhook-service.ts";
export {
  EventRejected,
  type EventSource,
  type EventSourceDocs,
  type IncomingEvent,
  type Verifier,
} from "./webhook-source.ts";
export { countEventsByStatus } from "./webhook-stats.ts";

/**
 * The webhook ledger, for one sender of signed events: intake at POST /api/webhooks/<name>/
 * (verified by `source`, stored once, group commit), the processing queue with its retries and dead
 * letters, and `webhooks:list` / `webhooks:replay`. The ledger knows neither the sender nor what
 * its events mean: the feature that owns them injects both, `source` (how a request is told
 * genuine, how the route is documented) and `handler` (src/features.ts). `K` names the
 * dependencies the handler uses, which the job and the replay hand it.
 */
export function webhooksFeature<K extends keyof JobDeps>(
  source: EventSource,
  handler: EventsHandler<Pick<JobDeps, K>>,
): Feature {
  return {
    name: "webhooks",
    routes: webhookModule(source),
    jobs: [processEventJob(handler)],
    retryPolicies: (config) => ({ [PROCESS_EVENT_QUEUE]: webhookRetryPolicy(config) }),
    commands: webhookCommands(handler),
  };
}
