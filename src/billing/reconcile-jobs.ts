import { Counter, type Registry } from "prom-client";
import { Type } from "typebox";
import type { JobDeps } from "../platform/feature.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import { billingDepsOf } from "./billing-deps.ts";
import {
  HEAL_KINDS,
  type HealKind,
  RECONCILE_JOB,
  type ReconcileReport,
  reconcile,
} from "./reconcile.ts";
import { ReconcileBusy } from "./reconcile-checkpoint.ts";

const HEALED_METRIC = "billing_reconcile_healed_total";

/**
 * `billing_reconcile_healed_total{kind}`: differences with Stripe reconciliation healed. Declared
 * once per registry (at start-up, so every kind reads 0 before the first heal).
 */
export function reconcileHealedCounter(registry: Registry): Counter<"kind"> {
  const existing = registry.getSingleMetric(HEALED_METRIC);
  if (existing instanceof Counter) return existing as Counter<"kind">;
  const counter = new Counter({
    name: HEALED_METRIC,
    help: "Differences with Stripe healed by reconciliation, by kind (subscription, invoice, payment, payment_failed, refund)",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  for (const kind of HEAL_KINDS) counter.inc({ kind }, 0);
  return counter;
}

/** A run with a process's services: the configured budget, each heal counted. */
export function runReconcile(
  deps: Pick<JobDeps, "database" | "stripe" | "jobs" | "config" | "logger" | "metrics">,
  options: { dryRun?: boolean; since?: number } = {},
): Promise<ReconcileReport> {
  const healed = reconcileHealedCounter(deps.metrics.registry);
  return reconcile(
    { ...billingDepsOf(deps), logger: deps.logger },
    {
      ...options,
      maxObjects: deps.config.RECONCILE_MAX_OBJECTS,
      onHeal: (kind: HealKind) => {
        if (!options.dryRun) healed.inc({ kind });
      },
    },
  );
}

/**
 * Every RECONCILE_INTERVAL (billing's `schedules`): one reconciliation run. Safe to run twice: a
 * run holds the lease in billing_reconcile_checkpoints, so a second one (another worker, the CLI)
 * finds it taken and does nothing; every heal is the webhook path's, keyed and version-guarded.
 */
export const reconcileJob = defineJob({
  name: RECONCILE_JOB,
  payload: Type.Object({}),
  // Not retried: the next run continues from the checkpoint.
  retry: { limit: 0, delaySeconds: 60, backoff: false },
  concurrency: 1,
  async handler(_payload, deps: JobDeps) {
    try {
      const report = await runReconcile(deps);
      deps.logger.info({ ...report }, "reconcile: run finished");
    } catch (err) {
      if (!(err instanceof ReconcileBusy)) throw err;
      deps.logger.info("reconcile: another run holds the lease; skipped");
    }
  },
});
