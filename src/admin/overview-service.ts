import { computeBusinessMetrics, currencyExponent, WINDOW_DAYS } from "../billing/index.ts";
import type { Db } from "../platform/db/client.ts";
import type { Overview } from "./overview-schemas.ts";

/**
 * The overview, computed now rather than read from the stored snapshot (up to
 * BUSINESS_METRICS_INTERVAL old): support looks at it right after acting. One read-only
 * repeatable-read transaction, so the figures agree with each other.
 */
export async function adminOverview(db: Db, now: Date): Promise<Overview> {
  const metrics = await db.transaction((tx) => computeBusinessMetrics(tx, now), {
    isolationLevel: "repeatable read",
    accessMode: "read only",
  });
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
  };
}
