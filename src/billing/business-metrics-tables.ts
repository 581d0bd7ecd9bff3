import { sql } from "drizzle-orm";
import { check, jsonb, pgTable, smallint, timestamp } from "drizzle-orm/pg-core";

/**
 * The latest business metrics (docs/operations.md, 'Business metrics'): one row, replaced by the
 * scheduled job that computes them, so that every API process's `/metrics` serves them with one
 * primary-key read instead of aggregating the billing tables on every scrape.
 */
export const businessMetricsSnapshot = pgTable(
  "business_metrics_snapshot",
  {
    /** Always 1: the table holds one row. */
    id: smallint().primaryKey().default(1),
    /** The `BusinessMetrics` computed (business-metrics.ts). */
    metrics: jsonb().notNull(),
    /** The moment the metrics describe (the job's clock). */
    computedAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [check("business_metrics_snapshot_one_row", sql`${t.id} = 1`)],
);
