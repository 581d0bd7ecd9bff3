import { withDefaultActor } from "./audit/index.ts";
import { openStripe } from "./billing/index.ts";
import type { Config } from "./config.ts";
import { features } from "./features.ts";
import { type Database, openDatabase, pgliteDataDir } from "./platform/db/client.ts";
import { runMigrations } from "./platform/db/migrate.ts";
import { createMailer, type Mailer } from "./platform/email/mailer.ts";
import type {
  AnyJobDefinition,
  JobDeps,
  Services,
  SubscriptionStatusOf,
} from "./platform/feature.ts";
import { Jobs } from "./platform/jobs/jobs.ts";
import type { Logger } from "./platform/logging.ts";
import { Metrics } from "./platform/metrics.ts";
import type { StripeDeps } from "./platform/stripe.ts";

/** Every feature's background jobs. */
export const jobDefinitions: AnyJobDefinition[] = features.flatMap((f) => f.jobs ?? []);

/** Until a feature answers it, every user's `subscription_status` is "inactive". */
const noSubscription: SubscriptionStatusOf = async () => "inactive";

/**
 * The definition with its handler run as the system job of its queue, for the audit trail (a
 * handler may name a more precise actor: the webhook job names each event).
 */
function actingAsQueue(definition: AnyJobDefinition): AnyJobDefinition {
  const context = { actor: { kind: "system" as const, job: definition.name } };
  const { handler, batch } = definition;
  return {
    ...definition,
    ...(handler ? { handler: (...args) => withDefaultActor(context, () => handler(...args)) } : {}),
    ...(batch
      ? {
          batch: {
            ...batch,
            handler: (...args) => withDefaultActor(context, () => batch.handler(...args)),
          },
        }
      : {}),
  };
}

export interface ServicesOptions {
  /** Overrides for tests: an already open database, job spies, other job definitions. */
  database?: Database;
  spies?: boolean;
  jobs?: AnyJobDefinition[];
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
      // Each feature's settings-driven policies per queue (EMAIL_RETRY_*, WEBHOOK_RETRY_*), over
      // the definitions' own.
      retry: Object.assign({}, ...features.map((f) => f.retryPolicies?.(config) ?? {})),
      // And their settings-driven schedules (BUSINESS_METRICS_INTERVAL).
      schedules: Object.assign({}, ...features.map((f) => f.schedules?.(config) ?? {})),
      log: logger,
      timeoutSeconds: config.JOB_TIMEOUT,
      heartbeatSeconds: config.JOB_HEARTBEAT,
      spies: options.spies ?? false,
      background: options.worksJobs ?? true,
      ...(options.pollingIntervalSeconds
        ? { pollingIntervalSeconds: options.pollingIntervalSeconds }
        : {}),
    });
    jobs.register(...(options.jobs ?? jobDefinitions).map(actingAsQueue));
    await jobs.start();
    const mailer = options.mailer ?? createMailer(config, logger);
    const stripe = options.stripe ?? (await openStripe(config, logger, database));
    const services: Services = {
      config,
      database,
      logger,
      jobs,
      mailer,
      metrics,
      stripe,
      subscriptionStatusOf:
        features.find((f) => f.provides?.subscriptionStatusOf)?.provides?.subscriptionStatusOf ??
        noSubscription,
      accessClaimOf: features.find((f) => f.provides?.accessClaimOf)?.provides?.accessClaimOf,
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
    const context = { embeddedStripe: stripe.emulator !== undefined && !options.stripe };
    for (const feature of features) await feature.onStart?.(services, context);
    return services;
  } catch (err) {
    if (owned) await database.close().catch(() => {});
    throw err;
  }
}
