import { count, eq } from "drizzle-orm";
import {
  computeBusinessMetrics,
  countFailedPayments,
  currencyExponent,
  WINDOW_DAYS,
} from "../billing/index.ts";
import type { Db } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { emails } from "../platform/email/email-tables.ts";
import type { AppDeps } from "../platform/feature.ts";
import { countEventsByStatus } from "../webhooks/index.ts";
import type { Overview } from "./overview-schemas.ts";

const DEAD = ".dead";

async function failedEmails(db: Db): Promise<number> {
  const query = prepared(db, "overview_failed_emails", (e) =>
    e
      .select({ n: count() })
      .from(emails)
      .where(eq(emails.status, "failed"))
      .prepare("overview_failed_emails"),
  );
  const [row] = await query.execute();
  return row?.n ?? 0;
}

/** pg-boss's dead-letter queues that hold jobs. */
async function deadJobs(jobs: AppDeps["jobs"]): Promise<Overview["failures"]["dead_jobs"]> {
  const queues = await jobs.boss.getQueues();
  return queues
    .filter((q) => q.name.endsWith(DEAD) && q.queuedCount > 0)
    .map((q) => ({ queue: q.name.slice(0, -DEAD.length), count: q.queuedCount }));
}

/**
 * The overview, computed now rather than read from the stored snapshot (up to
 * BUSINESS_METRICS_INTERVAL old): support looks at it right after acting. The metrics come from
 * one statement, so they agree with each other; the failure counts are read beside it.
 */
export async function adminOverview(
  deps: Pick<AppDeps, "database" | "jobs">,
  now: Date,
): Promise<Overview> {
  const { db } = deps.database;
  const since = new Date(now.getTime() - WINDOW_DAYS * 86_400_000);
  const [metrics, failedPayments, events, mails, dead] = await Promise.all([
    computeBusinessMetrics(db, now),
    countFailedPayments(db, since),
    countEventsByStatus(db),
    failedEmails(db),
    deadJobs(deps.jobs),
  ]);
  return {
    metrics: {
      computed_at: now.toISOString(),
      window_days: WINDOW_DAYS,
      mrr: metrics.mrr.map(({ currency, amount }) => {
        const exponent = currencyExponent(currency);
        return { currency, amount: (amount / 10 ** exponent).toFixed(exponent) };
      }),
      subscriptions: metrics.subscriptions,
      trials: metrics.trials,
      churned: metrics.churned,
      recovery: metrics.recovery,
    },
    failures: {
      failed_payments: failedPayments,
      webhook_events: {
        failed: events.failed ?? 0,
        retrying: events.retrying ?? 0,
        pending: events.pending ?? 0,
      },
      failed_emails: mails,
      dead_jobs: dead,
    },
  };
}
