import { UsageError } from "../platform/errors.ts";
import type { Command, JobDeps } from "../platform/feature.ts";
import { type EventsHandler, listEvents, replayEvent } from "./webhook-ledger.ts";

/** The ledger's operator commands; `webhooks:replay` runs `handler`, as the worker does. */
export function webhookCommands<K extends keyof JobDeps>(
  handler: EventsHandler<Pick<JobDeps, K>>,
): Record<string, Command> {
  return {
    "webhooks:list": {
      summary: "List received webhook events, newest first (--failed: failed or retrying only)",
      usage: "webhooks:list [--failed] [--limit N]",
      options: { failed: { type: "boolean" }, limit: { type: "string" } },
      services: true,
      async run({ services, values, out }) {
        if (!services) throw new Error("webhooks:list needs services");
        const limit = values.limit === undefined ? 50 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError("--limit must be a number");
        const events = await listEvents(services.database.db, {
          failed: values.failed === true,
          limit,
        });
        if (events.length === 0) {
          out(values.failed ? "no failed events" : "no events");
          return 0;
        }
        out(["received_at", "id", "type", "status", "attempts", "last_error"].join("\t"));
        for (const e of events) {
          out(
            [
              e.receivedAt.toISOString(),
              e.id,
              e.type,
              e.status,
              String(e.attempts),
              e.lastError ?? "-",
            ].join("\t"),
          );
        }
        return 0;
      },
    },
    "webhooks:replay": {
      summary: "Process a stored webhook event again now and print the outcome",
      usage: "webhooks:replay <event id>",
      services: true,
      async run({ services, positionals, out }) {
        if (!services) throw new Error("webhooks:replay needs services");
        const id = positionals[0];
        if (!id) throw new UsageError("an event id is required");
        try {
          const status = await replayEvent(
            { db: services.database.db, metrics: services.metrics },
            (events, batch) => handler(services, events, batch),
            id,
          );
          out(`${id}: ${status}`);
          return 0;
        } catch (err) {
          out(`${id}: failed: ${err instanceof Error ? err.message : String(err)}`);
          return 1;
        }
      },
    },
  };
}
