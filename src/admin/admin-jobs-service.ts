import { recordAudit } from "../audit/index.ts";
import type { Db } from "../platform/db/client.ts";
import {
  dropEmailDeadLetters,
  type EmailRecordWithUser,
  type EmailStatus,
  findEmails,
  requeueEmail,
} from "../platform/email/email-operations.ts";
import type { JobDeps } from "../platform/feature.ts";
import { businessError } from "../platform/http/errors.ts";
import {
  type DeadLetter,
  findDeadLetter,
  listDeadLetters,
  retryDeadLetter,
} from "../platform/jobs/dead-letters.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import type { Logger } from "../platform/logging.ts";

// Dead-lettered jobs and failed emails for staff, and retrying them. A job whose retries are spent
// waits in its queue's dead-letter queue; a retry sends it back to its queue with a fresh retry
// budget (pg-boss's redrive). A failed email is retried as an email: its row goes back to
// `queued` with a new send job, and its dead letter is removed. Both are audited.

export interface AdminJobsDeps {
  db: Db;
  jobs: Jobs<JobDeps>;
  logger: Logger;
}

export interface DeadLetterBody {
  id: string;
  queue: string;
  payload: unknown;
  error: string | null;
  retry_count: number;
  queued_at: string | null;
  dead_lettered_at: string;
}

function deadLetterBody(letter: DeadLetter): DeadLetterBody {
  return {
    id: letter.id,
    queue: letter.queue,
    payload: letter.payload,
    error: letter.error,
    retry_count: letter.retryCount,
    queued_at: letter.queuedAt?.toISOString() ?? null,
    dead_lettered_at: letter.deadLetteredAt.toISOString(),
  };
}

export async function listAdminDeadLetters(
  deps: AdminJobsDeps,
  filter: { queue?: string | undefined },
  page: { limit: number; offset: number },
): Promise<{ count: number; results: DeadLetterBody[] }> {
  const { count, deadLetters } = await listDeadLetters(deps.db, deps.jobs, filter, page);
  return { count, results: deadLetters.map(deadLetterBody) };
}

/**
 * Sends a dead-lettered job back to its queue. A retried request finds nothing left to retry
 * (404): the job left the dead-letter queue the first time.
 */
export async function retryAdminDeadLetter(
  deps: AdminJobsDeps,
  id: string,
): Promise<DeadLetterBody> {
  const letter = await findDeadLetter(deps.db, deps.jobs, id);
  if (!letter || !(await retryDeadLetter(deps.jobs, letter))) {
    throw businessError("not_found", "No dead-lettered job with this id.");
  }
  await deps.db.transaction((tx) =>
    recordAudit(tx, [
      {
        userId: null,
        kind: "admin.job_retried",
        subjectId: letter.id,
        before: { queue: `${letter.queue}.dead`, error: letter.error },
        after: { queue: letter.queue },
      },
    ]),
  );
  return deadLetterBody(letter);
}

export interface EmailBody {
  id: string;
  user_id: string | null;
  recipient: string;
  template: string;
  subject: string;
  cause: string;
  status: string;
  attempts: number;
  last_error: string | null;
  sent_at: string | null;
  provider_message_id: string | null;
  created_at: string;
}

function emailBody(email: EmailRecordWithUser): EmailBody {
  return {
    id: email.id,
    user_id: email.userId,
    recipient: email.recipient,
    template: email.template,
    subject: email.subject,
    cause: email.causeKey,
    status: email.status,
    attempts: email.attempts,
    last_error: email.lastError,
    sent_at: email.sentAt?.toISOString() ?? null,
    provider_message_id: email.providerMessageId,
    created_at: email.createdAt.toISOString(),
  };
}

export async function listAdminEmails(
  deps: Pick<AdminJobsDeps, "db">,
  filter: { status?: EmailStatus | undefined },
  page: { limit: number; offset: number },
): Promise<{ count: number; results: EmailBody[] }> {
  const { count, emails } = await findEmails(deps.db, filter, page);
  return { count, results: emails.map(emailBody) };
}

/**
 * Queues a failed email again (the message recorded when it was first queued) and audits it
 * (`admin.email_retried`). An email that is not failed is refused (409); a retried request finds
 * it queued already and queues nothing more.
 */
export async function retryAdminEmail(deps: AdminJobsDeps, id: string): Promise<EmailBody> {
  const result = await deps.db.transaction(async (tx) => {
    const requeued = await requeueEmail(tx, deps.jobs, id);
    if (requeued?.queued) {
      await recordAudit(tx, [
        {
          userId: requeued.email.userId,
          kind: "admin.email_retried",
          subjectId: id,
          before: { status: requeued.email.status, last_error: requeued.email.lastError },
          after: { status: "queued" },
        },
      ]);
    }
    return requeued;
  });
  if (!result) throw businessError("not_found", "Email not found.");
  if (!result.queued) {
    throw businessError(
      "conflict",
      `Only a failed email can be retried; this one is ${result.email.status}.`,
    );
  }
  try {
    await dropEmailDeadLetters(deps.db, deps.jobs, id);
  } catch (err) {
    deps.logger.warn({ err, email: id }, "admin retry: the email's dead letter was not removed");
  }
  return emailBody({ ...result.email, status: "queued" });
}
