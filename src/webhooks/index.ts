import type { Feature, JobDeps } from "../platform/feature.ts";
import { webhookCommands } from "./webhook-cli.ts";
import { PROCESS_EVENT_QUEUE, processEventJob, webhookRetryPolicy } from "./webhook-jobs.ts";
import type { EventsHandler } from "./webhook-ledger.ts";
import { webhookModule } from "./webhook-module.ts";

export type {
  Batch,
  EventsHandler,
  HandlerResult,
  LedgerEvent,
  Outcome,
} from "./webhook-ledger.ts";

/**
 * The webhook ledger: intake at POST /api/webhooks/stripe/ (verified, stored once, group commit),
 * the processing queue with its retries and dead letters, and `webhooks:list` / `webhooks:replay`.
 * What an event means is `handler`'s: the feature that owns the events injects it (src/features.ts).
 * `K` names the dependencies the handler uses, which the job and the replay hand it.
 */
export function webhooksFeature<K extends keyof JobDeps>(
  handler: EventsHandler<Pick<JobDeps, K>>,
): Feature {
  return {
    name: "webhooks",
    routes: webhookModule,
    jobs: [processEventJob(handler)],
    retryPolicies: (config) => ({ [PROCESS_EVENT_QUEUE]: webhookRetryPolicy(config) }),
    commands: webhookCommands(handler),
  };
}
