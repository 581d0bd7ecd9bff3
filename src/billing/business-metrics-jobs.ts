import { Type } from "typebox";
import type { Database } from "../platform/db/client.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import { refreshBusinessMetrics } from "./business-metrics.ts";

/**
 * Every BUSINESS_METRICS_INTERVAL (billing's `schedules`, src/billing/index.ts): computes the
 * business metrics and stores the snapshot `/metrics` shows (docs/operations.md, 'Business
 * metrics'). Safe to run twice or concurrently: it only reads the billing tables and replaces the
 * one snapshot row, and an older run never overwrites a newer one.
 */
export const businessMetricsJob = defineJob({
  name: "billing.business-metrics",
  payload: Type.Object({}),
  // A failed run is made good by the next one at the latest.
  retry: { limit: 1, delaySeconds: 60, backoff: false },
  concurrency: 1,
  async handler(_payload, deps: { database: Database }) {
    await refreshBusinessMetrics(deps.database.db, new Date());
  },
});
