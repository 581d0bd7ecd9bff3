import { Type } from "typebox";
import { EMAIL_STATUSES } from "../platform/email/email-operations.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, failures } from "../platform/http/error-schemas.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, Paginated, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import {
  listAdminDeadLetters,
  listAdminEmails,
  retryAdminDeadLetter,
  retryAdminEmail,
} from "./admin-jobs-service.ts";
import { adminErrors, adminWriteErrors } from "./staff-guard.ts";

const Time = Type.String({ format: "date-time" });

const DeadLetter = Type.Object({
  id: Type.String({ format: "uuid", description: "The job's id in its dead-letter queue." }),
  queue: Type.String({ description: "The queue it failed on.", examples: ["email.send"] }),
  payload: Type.Unsafe<unknown>({ description: "The job's payload." }),
  error: Nullable(Type.String({ description: "Its last attempt's error." })),
  retry_count: Type.Integer({ minimum: 0, description: "Retries it used before it gave up." }),
  queued_at: Nullable(Time),
  dead_lettered_at: Time,
});

const statusText = "queued → sent, or queued → retrying → failed once its retries are spent.";
const EmailStatus = Type.String({ enum: [...EMAIL_STATUSES], description: statusText });

const Email = Type.Object({
  id: Type.String({ format: "uuid" }),
  user_id: Nullable(Type.String({ format: "uuid" })),
  recipient: Type.String(),
  template: Type.String({ examples: ["billing.subscription_confirmation"] }),
  subject: Type.String(),
  cause: Type.String({ description: "What caused it (an invoice id for a receipt, …)." }),
  status: EmailStatus,
  attempts: Type.Integer({ minimum: 0 }),
  last_error: Nullable(Type.String()),
  sent_at: Nullable(Time),
  provider_message_id: Nullable(Type.String()),
  created_at: Time,
});

const JobsQuery = Type.Object({
  ...PageQuery.properties,
  queue: Type.Optional(Type.String({ minLength: 1, examples: ["email.send", "webhooks.process"] })),
});

const EmailsQuery = Type.Object({
  ...PageQuery.properties,
  status: Type.Optional(Type.Enum(EMAIL_STATUSES, { type: "string", description: statusText })),
});

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });

/** `/api/admin/jobs/…`: dead-lettered jobs and failed emails, and retrying them. */
export function jobsRoutes(app: App, deps: AppDeps): void {
  const services = { db: deps.database.db, jobs: deps.jobs, logger: deps.logger };
  const base = { tags: ["admin"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/admin/jobs/",
    {
      schema: {
        ...base,
        operationId: "admin_jobs_list",
        summary: "Dead-lettered jobs (retries spent), newest first, 20 a page; filter by queue.",
        description:
          "A job that failed its last retry waits in its queue's dead-letter queue with its payload " +
          "and last error (`email.send`, `webhooks.process`, …) until it is retried or purged.",
        querystring: JobsQuery,
        response: {
          200: described("A page of dead-lettered jobs.", Paginated(DeadLetter)),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { count, results } = await listAdminDeadLetters(
        services,
        { queue: request.query.queue },
        at,
      );
      return paginated(request, at, count, results);
    },
  );

  app.post(
    "/api/admin/jobs/:id/retry/",
    {
      schema: {
        ...base,
        operationId: "admin_jobs_retry",
        summary: "Send a dead-lettered job back to its queue with a fresh retry budget.",
        description:
          "The job leaves the dead-letter list; a retried request finds nothing to retry (404). " +
          "Audited as `admin.job_retried`.",
        params: IdParams,
        response: {
          202: described("Queued again; the body is the job as it was dead-lettered.", DeadLetter),
          ...adminWriteErrors([businessFailure(404, "No dead-lettered job with this id.")]),
        },
      },
    },
    async (request, reply) => {
      const letter = await retryAdminDeadLetter(services, request.params.id);
      reply.code(202);
      return letter;
    },
  );

  app.get(
    "/api/admin/jobs/emails/",
    {
      schema: {
        ...base,
        operationId: "admin_jobs_emails_list",
        summary: "Recorded emails, newest first, 20 a page; `?status=failed` for the failed ones.",
        description:
          "The outbox: every email the system decided to send, with its delivery status, attempts " +
          "and last error; what `emails:list` shows.",
        querystring: EmailsQuery,
        response: {
          200: described("A page of emails.", Paginated(Email)),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { count, results } = await listAdminEmails(
        services,
        { status: request.query.status },
        at,
      );
      return paginated(request, at, count, results);
    },
  );

  app.post(
    "/api/admin/jobs/emails/:id/retry/",
    {
      schema: {
        ...base,
        operationId: "admin_jobs_emails_retry",
        summary: "Send a failed email again (the message recorded when it was first queued).",
        description:
          "The email goes back to `queued` with a new send job, and its dead letter is removed. " +
          "Only a `failed` email can be retried (409 otherwise, also for a retried request, which " +
          "finds it queued). Audited as `admin.email_retried`.",
        params: IdParams,
        response: {
          202: described("Queued again.", Email),
          ...adminWriteErrors([
            businessFailure(404, "No email with this id."),
            businessFailure(409, "The email is not failed (queued, retrying or sent)."),
          ]),
        },
      },
    },
    async (request, reply) => {
      const email = await retryAdminEmail(services, request.params.id);
      reply.code(202);
      return email;
    },
  );
}
