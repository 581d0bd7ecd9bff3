import type { Command } from "../platform/feature.ts";
import {
  type BusinessMetricsSnapshot,
  refreshBusinessMetrics,
  WINDOW_DAYS,
} from "./business-metrics.ts";
import { currencyExponent } from "./money.ts";

/** The snapshot as the operator reads it: one fact a line, money in major units. */
export function snapshotLines({ metrics, computedAt }: BusinessMetricsSnapshot): string[] {
  const window = `last ${WINDOW_DAYS} days`;
  return [
    `computed at ${computedAt.toISOString()}`,
    ...metrics.mrr.map(
      (m) => `mrr ${m.currency} ${(m.amount / 10 ** currencyExponent(m.currency)).toFixed(2)}`,
    ),
    ...metrics.subscriptions.map((s) => `subscriptions ${s.status} ${s.plan}: ${s.count}`),
    `trials ended (${window}): ${metrics.trials.ended}, converted: ${metrics.trials.converted}`,
    `churned subscriptions (${window}): ${metrics.churned}`,
    `failed invoices (${window}): ${metrics.recovery.failed}, recovered: ${metrics.recovery.recovered}`,
  ];
}

export const businessMetricsCommands: Record<string, Command> = {
  "billing:metrics": {
    summary:
      "Compute the business metrics now (MRR, subscriptions, trials, churn, recovery), store them for /metrics and print them",
    services: true,
    async run({ services, out }) {
      if (!services) throw new Error("billing:metrics needs services");
      for (const line of snapshotLines(
        await refreshBusinessMetrics(services.database.db, new Date()),
      )) {
        out(line);
      }
      return 0;
    },
  },
};
