import type Stripe from "stripe";
import type { Config } from "../config.ts";
import type { Db } from "../platform/db/client.ts";
import type { EmailConfig } from "../platform/email/templates.ts";
import type { JobDeps } from "../platform/feature.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";

/** What the billing services use. */
export interface BillingDeps {
  db: Db;
  stripe: Stripe;
  jobs: Jobs<JobDeps>;
  config: EmailConfig & Pick<Config, "TRIAL_WITHOUT_CARD_END">;
}

/** The billing services' dependencies, out of a process's services (routes, jobs, commands). */
export function billingDepsOf(
  deps: Pick<JobDeps, "database" | "stripe" | "jobs" | "config">,
): BillingDeps {
  return {
    db: deps.database.db,
    stripe: deps.stripe.stripe,
    jobs: deps.jobs,
    config: deps.config,
  };
}
