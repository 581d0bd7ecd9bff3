import { purgeExpiredTokensJob } from "./accounts/accounts-jobs.ts";
import type { Config } from "./config.ts";
import { type Database, openDatabase, pgliteDataDir } from "./platform/db/client.ts";
import { runMigrations } from "./platform/db/migrate.ts";
import { emailRetryPolicy, SEND_EMAIL_QUEUE, sendEmailJob } from "./platform/email/email-jobs.ts";
import { createMailer, type Mailer } from "./platform/email/mailer.ts";
import { type JobDefinition, Jobs } from "./platform/jobs/jobs.ts";
import type { Logger } from "./platform/logging.ts";
import { Metrics } from "./platform/metrics.ts";

/** What job handlers receive: every dependency a feature's jobs may use. */
export interface JobDeps {
  config: Config;
  database: Database;
  logger: Logger;
  mailer: Mailer;
  metrics: Metrics;
}

export interface Services extends JobDeps {
  jobs: Jobs<JobDeps>;
  close(): Promise<void>;
}

/** Every feature's background jobs. */
// biome-ignore lint/suspicious/noExplicitAny: definitions of every payload type
export const jobDefinitions: JobDefinition<any, JobDeps>[] = [sendEmailJob, purgeExpiredTokensJob];

export interface ServicesOptions {
  /** Overrides for tests: an already open database, job spies, other job definitions. */
  database?: Database;
  spies?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: definitions of every payload type
  jobs?: JobDefinition<any, JobDeps>[];
  pollingIntervalSeconds?: number;
  /** Replaces the transport chosen from configuration (tests). */
  mailer?: Mailer;
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
      retry: { [SEND_EMAIL_QUEUE]: emailRetryPolicy(config) },
      log: logger,
      spies: options.spies ?? false,
      ...(options.pollingIntervalSeconds
        ? { pollingIntervalSeconds: options.pollingIntervalSeconds }
        : {}),
    });
    jobs.register(...(options.jobs ?? jobDefinitions));
    await jobs.start();
    const mailer = options.mailer ?? createMailer(config, logger);
    return {
      config,
      database,
      logger,
      jobs,
      mailer,
      metrics,
      async close() {
        await jobs.stop(config.SHUTDOWN_TIMEOUT * 1000);
        mailer.close();
        if (owned) await database.close();
      },
    };
  } catch (err) {
    if (owned) await database.close().catch(() => {});
    throw err;
  }
}
