import { purgeExpiredTokensJob } from "./accounts/accounts-jobs.ts";
import type { SubscriptionStatusOf } from "./accounts/accounts-service.ts";
import { seedDemoPlans } from "./billing/demo-plans.ts";
import { openStripe, type StripeDeps } from "./billing/stripe-client.ts";
import { subscriptionStatusOf } from "./billing/sync-service.ts";
import type { Config } from "./config.ts";
import { type Database, openDatabase, pgliteDataDir } from "./platform/db/client.ts";
import { runMigrations } from "./platform/db/migrate.ts";
import { emailRetryPolicy, SEND_EMAIL_QUEUE, sendEmailJob } from "./platform/email/email-jobs.ts";
import { createMailer, type Mailer } from "./platform/email/mailer.ts";
import type { JobDefinition } from "./platform/jobs/definitions.ts";
import { Jobs } from "./platform/jobs/jobs.ts";
import type { Logger } from "./platform/logging.ts";
import { Metrics } from "./platform/metrics.ts";
import {
  PROCESS_EVENT_QUEUE,
  processEventJob,
  webhookRetryPolicy,
} from "./webhooks/webhook-jobs.ts";

/** What job handlers receive: every dependency a feature's jobs may use. */
export interface JobDeps {
  config: Config;
  database: Database;
  logger: Logger;
  mailer: Mailer;
  metrics: Metrics;
  /** The Stripe SDK client (and the in-process emulator in the embedded default). */
  stripe: StripeDeps;
  /** Handlers enqueue follow-up work (emails) in their own transactions. */
  jobs: Jobs<JobDeps>;
}

export interface Services extends JobDeps {
  jobs: Jobs<JobDeps>;
  /** The `subscription_status` of the user shape, answered by billing. */
  subscriptionStatusOf: SubscriptionStatusOf;
  close(): Promise<void>;
}

/** Every feature's background jobs. */
// biome-ignore lint/suspicious/noExplicitAny: definitions of every payload type
export const jobDefinitions: JobDefinition<any, JobDeps>[] = [
  sendEmailJob,
  purgeExpiredTokensJob,
  processEventJob,
];

export interface ServicesOptions {
  /** Overrides for tests: an already open database, job spies, other job definitions. */
  database?: Database;
  spies?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: definitions of every payload type
  jobs?: JobDefinition<any, JobDeps>[];
  pollingIntervalSeconds?: number;
  /**
   * Whether this process works jobs (the worker, an API process with WORKER=on): only then does it
   * also run the job queue's background duties (see JobsOptions.background). Default true.
   */
  worksJobs?: boolean;
  /** Replaces the transport chosen from configuration (tests). */
  mailer?: Mailer;
  /** An already started Stripe (tests: an emulator whose webhooks reach the test app). */
  stripe?: StripeDeps;
}

/**
 * Opens the database (applying migrations unless MIGRATE_ON_START=false), and the job queue with
 * every feature's job definitions. Shared by the API, the worker and the CLI.
 */
export async function openServices(
  config: Config,
  logger: Logger,
  options: ServicesOptions = {},
): Promise<Services> {
  // Close only what we opened: a database handed in (tests) belongs to the caller.
  const owned = !options.database;
  const database =
    options.database ??
    (await openDatabase({
      ...(config.DATABASE_URL ? { url: config.DATABASE_URL } : {}),
      pgliteDir: pgliteDataDir(config.dataDir),
      poolMax: config.DATABASE_POOL_MAX,
    }));
  try {
    if (config.MIGRATE_ON_START) await runMigrations(database);
    const metrics = new Metrics(database);
    const jobs = new Jobs<JobDeps>(database, {
      onAttempt: (queue, outcome) => metrics.jobs.inc({ queue, outcome }),
      defaultRetry: {
        limit: config.JOB_RETRY_LIMIT,
        delaySeconds: config.JOB_RETRY_DELAY,
        backoff: true,
      },
      // Settings-driven policies per queue (EMAIL_RETRY_*), over the definitions' defaults.
      retry: {
        [SEND_EMAIL_QUEUE]: emailRetryPolicy(config),
        [PROCESS_EVENT_QUEUE]: webhookRetryPolicy(config),
      },
      log: logger,
      timeoutSeconds: config.JOB_TIMEOUT,
      heartbeatSeconds: config.JOB_HEARTBEAT,
      spies: options.spies ?? false,
      background: options.worksJobs ?? true,
      ...(options.pollingIntervalSeconds
        ? { pollingIntervalSeconds: options.pollingIntervalSeconds }
        : {}),
    });
    jobs.register(...(options.jobs ?? jobDefinitions));
    await jobs.start();
    const mailer = options.mailer ?? createMailer(config, logger);
    const stripe = options.stripe ?? (await openStripe(config, logger, database));
    // The embedded default sells demo plans from the first start (emulator and database).
    if (stripe.emulator && !options.stripe) await seedDemoPlans(database.db, stripe.stripe, logger);
    return {
      config,
      database,
      logger,
      jobs,
      mailer,
      metrics,
      stripe,
      subscriptionStatusOf,
      async close() {
        try {
          await jobs.stop(config.SHUTDOWN_TIMEOUT * 1000);
          mailer.close();
        } finally {
          if (!options.stripe) await stripe.emulator?.close();
          if (owned) await database.close();
        }
      },
    };
  } catch (err) {
    if (owned) await database.close().catch(() => {});
    throw err;
  }
}
