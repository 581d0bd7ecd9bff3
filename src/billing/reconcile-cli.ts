import { UsageError } from "../platform/errors.ts";
import type { Command } from "../platform/feature.ts";
import { HEAL_KINDS, type ReconcileReport } from "./reconcile.ts";
import { ReconcileBusy } from "./reconcile-checkpoint.ts";
import { runReconcile } from "./reconcile-jobs.ts";

/** `--since`: an ISO date or unix seconds. */
export function parseSince(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new UsageError(`--since: "${value}" is neither an ISO date nor unix seconds.`);
  }
  return Math.floor(ms / 1000);
}

/** The report as the operator reads it: one kind a line. */
export function reportLines(report: ReconcileReport): string[] {
  const verb = report.dryRun ? "would heal" : "healed";
  return [
    ...HEAL_KINDS.map((kind) => `${verb} ${kind}: ${report.healed[kind]}`),
    `examined: ${report.examined} Stripe objects`,
    ...(report.unresolved.length > 0
      ? [`unresolved (no owner known yet): ${report.unresolved.join(", ")}`]
      : []),
    report.complete
      ? "up to date with Stripe"
      : "stopped at RECONCILE_MAX_OBJECTS; the next run continues",
  ];
}

export const reconcileCommands: Record<string, Command> = {
  "billing:reconcile": {
    summary:
      "Compare Stripe's subscriptions, invoices and refunds with the database and heal the differences",
    usage: "[--dry-run] [--since <ISO date | unix seconds>]",
    options: { "dry-run": { type: "boolean" }, since: { type: "string" } },
    services: true,
    async run({ services, values, out }) {
      if (!services) throw new Error("billing:reconcile needs services");
      const since = typeof values.since === "string" ? parseSince(values.since) : undefined;
      try {
        const report = await runReconcile(services, {
          dryRun: values["dry-run"] === true,
          ...(since === undefined ? {} : { since }),
        });
        for (const line of reportLines(report)) out(line);
        return 0;
      } catch (err) {
        if (!(err instanceof ReconcileBusy)) throw err;
        out("another reconciliation run is in progress; try again later");
        return 1;
      }
    },
  },
};
