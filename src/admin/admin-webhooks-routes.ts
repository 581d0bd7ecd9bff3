import { Type } from "typebox";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, failures } from "../platform/http/error-schemas.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, Paginated, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import { EVENT_STATUSES } from "../webhooks/index.ts";
import {
  adminEventDetail,
  listAdminEvents,
  REPLAY_FAILED_LIMIT,
  replayAdminEvent,
  replayFailedEvents,
} from "./admin-webhooks-service.ts";
import { adminErrors, adminWriteErrors } from "./staff-guard.ts";

const Time = Type.String({ format: "date-time" });
const statusText =
  "pending → processed | ignored (a type nothing acts on), or retrying → failed (retries spent: dead-lettered).";
const Status = Type.String({ enum: [...EVENT_STATUSES], description: statusText });

const EventSummary = Type.Object({
  id: Type.String({ examples: ["evt_1QfXb2LkdIwHu7ix"] }),
  type: Type.String({ examples: ["invoice.paid"] }),
  status: Status,
  attempts: Type.Integer({
    minimum: 0,
    description: "Processing attempts so far, replays included.",
  }),
  last_error: Nullable(Type.String({ description: "The last failed attempt's error." })),
  created: { ...Time, description: "When the sender created it." },
  received_at: Time,
  processed_at: Nullable(Time),
});

const EventJob = Type.Object({
  id: Type.String({ format: "uuid" }),
  queue: Type.String({
    description: "`webhooks.process`, or `webhooks.process.dead` for its dead letter.",
  }),
  state: Type.String({ examples: ["completed", "failed", "retry", "created", "active"] }),
  retry_count: Type.Integer({ minimum: 0 }),
  error: Nullable(Type.String()),
  created_at: Time,
  started_at: Nullable(Time),
  completed_at: Nullable(Time),
});

const EventDetail = Type.Object({
  ...EventSummary.properties,
  api_version: Nullable(Type.String()),
  payload: Type.Unsafe<unknown>({
    type: "object",
    additionalProperties: true,
    description: "The event as its sender sent it.",
  }),
  jobs: Type.Array(EventJob, {
    description:
      "Its processing jobs, oldest first: the delivery's and each replay's, with their retries and errors (kept for the job queue's retention period).",
  }),
});

const Replay = Type.Object({
  id: Type.String(),
  type: Type.String(),
  status: Type.Literal("pending", { description: "Queued for the worker." }),
  previous_status: Type.String(),
});

const EventsQuery = Type.Object({
  ...PageQuery.properties,
  type: Type.Optional(Type.String({ minLength: 1, examples: ["invoice.paid"] })),
  status: Type.Optional(Type.Enum(EVENT_STATUSES, { type: "string", description: statusText })),
});

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) });

const notFound = businessFailure(404, "No stored event with this id.");

/** `/api/admin/webhooks/events/…`: the webhook ledger, and replay. */
export function webhooksRoutes(app: App, deps: AppDeps): void {
  const services = { db: deps.database.db, jobs: deps.jobs, logger: deps.logger };
  const base = { tags: ["admin"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/admin/webhooks/events/",
    {
      schema: {
        ...base,
        operationId: "admin_webhooks_events_list",
        summary: "Received webhook events, newest first, 20 a page; filter by type and status.",
        description:
          "The webhook ledger: every verified event once, with its processing status, attempts and " +
          "last error. `?status=failed` lists the dead-lettered ones, which replay-failed replays.",
        querystring: EventsQuery,
        response: {
          200: described("A page of events.", Paginated(EventSummary)),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { type, status } = request.query;
      const { count, results } = await listAdminEvents(services, { type, status }, at);
      return paginated(request, at, count, results);
    },
  );

  app.get(
    "/api/admin/webhooks/events/:id/",
    {
      schema: {
        ...base,
        operationId: "admin_webhooks_events_retrieve",
        summary: "One webhook event: its payload, attempts, last error and processing jobs.",
        description:
          "`jobs` shows each time the event was queued (its delivery, each replay) and what became " +
          "of it: retries, the error of a failed attempt, and its dead letter.",
        params: IdParams,
        response: {
          200: described("The event.", EventDetail),
          ...adminErrors(failures.fields, [notFound]),
        },
      },
    },
    async (request) => adminEventDetail(services, request.params.id),
  );

  app.post(
    "/api/admin/webhooks/events/:id/replay/",
    {
      schema: {
        ...base,
        operationId: "admin_webhooks_events_replay",
        summary: "Process a stored event again, whatever its status.",
        description:
          "Sets it back to `pending` and queues its processing job: the worker runs it through the " +
          "same handler and ordering guards as a delivery, and it ends `processed` when that succeeds. " +
          "A retried request queues nothing more. Audited as `admin.webhook_replayed`.",
        params: IdParams,
        response: {
          202: described("Queued for processing.", Replay),
          ...adminWriteErrors([notFound]),
        },
      },
    },
    async (request, reply) => {
      const replayed = await replayAdminEvent(services, request.params.id);
      reply.code(202);
      return replayed;
    },
  );

  app.post(
    "/api/admin/webhooks/events/replay-failed/",
    {
      schema: {
        ...base,
        operationId: "admin_webhooks_events_replay_failed",
        summary: `Process every failed (dead-lettered) event again, oldest first, up to ${REPLAY_FAILED_LIMIT} a request.`,
        description:
          "Each is queued as by the single replay; `remaining` counts the failed events still " +
          "waiting (send the request again to replay them).",
        response: {
          202: described(
            "Queued for processing.",
            Type.Object({
              replayed: Type.Array(Replay),
              remaining: Type.Integer({ minimum: 0 }),
            }),
          ),
          ...adminWriteErrors(),
        },
      },
    },
    async (_request, reply) => {
      const result = await replayFailedEvents(services);
      reply.code(202);
      return result;
    },
  );
}
