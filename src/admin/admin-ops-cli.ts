import { randomUUID } from "node:crypto";
import { withActor } from "../audit/index.ts";
import { AppError, UsageError } from "../platform/errors.ts";
import type { Command, CommandContext, Services } from "../platform/feature.ts";
import {
  listAdminDeadLetters,
  retryAdminDeadLetter,
  retryAdminEmail,
} from "./admin-jobs-service.ts";
import { refundPayment } from "./admin-payments-service.ts";
import { replayFailedEvents } from "./admin-webhooks-service.ts";

// The operations support tasks from the CLI, through the admin API's services (the same checks,
// Stripe calls and audit rows; the actor is `system` "cli" with the command as its reason). On
// the embedded database the CLI runs only while the API is stopped (docs/architecture.md, 'The
// embedded database belongs to one process'); the admin API works while it runs.

/** Runs a command's work as the CLI actor; a refusal the API answers 4xx is a usage error here. */
async function asOperator<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await withActor({ actor: { kind: "system", job: "cli" }, reason: name }, work);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      const body = err.toJSON();
      throw new UsageError(Object.values(body).flat().join(" "));
    }
    throw err;
  }
}

function need(services: Services | undefined, name: string): Services {
  if (!services) throw new Error(`${name} needs services`);
  return services;
}

const opsDeps = (s: Services) => ({ db: s.database.db, jobs: s.jobs, logger: s.logger });

function positiveInt(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a whole number of at least 1`);
  }
  return n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The command's id argument: a UUID (jobs, emails and payments are named by one). */
function idArgument({ positionals }: CommandContext, what: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`${what} is required`);
  if (!UUID.test(id)) throw new UsageError(`"${id}" is not ${what}`);
  return id;
}

export const adminOpsCommands: Record<string, Command> = {
  "jobs:dead": {
    summary: "List dead-lettered jobs (retries spent), newest first",
    usage: "jobs:dead [--queue email.send|webhooks.process|…] [--limit N]",
    options: { queue: { type: "string" }, limit: { type: "string" } },
    services: true,
    async run({ services, values, out }) {
      const s = need(services, "jobs:dead");
      const limit = positiveInt(values.limit, "--limit") ?? 50;
      const queue = typeof values.queue === "string" ? values.queue : undefined;
      const { results } = await listAdminDeadLetters(opsDeps(s), { queue }, { limit, offset: 0 });
      if (results.length === 0) {
        out("no dead-lettered jobs");
        return 0;
      }
      out(["dead_lettered_at", "id", "queue", "retries", "payload", "error"].join("\t"));
      for (const j of results) {
        const payload = JSON.stringify(j.payload);
        out([j.dead_lettered_at, j.id, j.queue, j.retry_count, payload, j.error ?? "-"].join("\t"));
      }
      return 0;
    },
  },
  "jobs:retry": {
    summary: "Send a dead-lettered job back to its queue with a fresh retry budget",
    usage: "jobs:retry <job id>",
    services: true,
    async run(context) {
      const s = need(context.services, "jobs:retry");
      const id = idArgument(context, "a dead-lettered job's id (jobs:dead)");
      const job = await asOperator("jobs:retry", () => retryAdminDeadLetter(opsDeps(s), id));
      context.out(`${job.id}: queued again on ${job.queue}`);
      return 0;
    },
  },
  "emails:retry": {
    summary: "Send a failed email again (the message recorded when it was first queued)",
    usage: "emails:retry <email id>",
    services: true,
    async run(context) {
      const s = need(context.services, "emails:retry");
      const id = idArgument(context, "a failed email's id (emails:list --status failed)");
      const email = await asOperator("emails:retry", () => retryAdminEmail(opsDeps(s), id));
      context.out(`${email.id}: queued for ${email.recipient}`);
      return 0;
    },
  },
  "webhooks:replay-failed": {
    summary:
      "Queue every failed webhook event for processing again (500 a run; a worker runs them)",
    services: true,
    async run({ services, out }) {
      const s = need(services, "webhooks:replay-failed");
      const { replayed, remaining } = await asOperator("webhooks:replay-failed", () =>
        replayFailedEvents(opsDeps(s)),
      );
      for (const r of replayed) out(`${r.id}\t${r.type}\tqueued`);
      out(`${replayed.length} event(s) queued, ${remaining} failed event(s) left`);
      return 0;
    },
  },
  "payments:refund": {
    summary: "Refund a payment fully or partly through Stripe (recorded when its webhook returns)",
    usage: "payments:refund <payment id> [--amount MINOR_UNITS]",
    options: { amount: { type: "string" } },
    services: true,
    async run(context) {
      const s = need(context.services, "payments:refund");
      const paymentId = idArgument(context, "a payment id");
      const amount = positiveInt(context.values.amount, "--amount");
      const refund = await asOperator("payments:refund", () =>
        refundPayment(
          { db: s.database.db, stripe: s.stripe.stripe, logger: s.logger },
          { paymentId, amount, key: randomUUID() },
        ),
      );
      context.out(
        `${refund.id}: ${refund.amount} ${refund.currency} ${refund.status}, ${refund.remaining} left to refund`,
      );
      return 0;
    },
  },
};
