import { count, desc, eq, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/client.ts";
import { filteredPage } from "../db/prepared.ts";
import { dropDeadLetters, type QueueAccess } from "../jobs/dead-letters.ts";
import type { Jobs } from "../jobs/jobs.ts";
import { type EmailJobDeps, SEND_EMAIL_QUEUE, sendEmailJob } from "./email-jobs.ts";
import { type EmailRecord, emailRecordColumns } from "./email-service.ts";
import { emails } from "./email-tables.ts";

// The outbox for operators (the admin API): emails by status, and retrying one whose delivery
// was dead-lettered. A retry queues the same recorded message again (it was rendered when it was
// queued), through the same send job.

/** What an email's `status` can be (email-tables.ts). */
export const EMAIL_STATUSES = ["queued", "retrying", "sent", "failed"] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

export interface EmailRecordWithUser extends EmailRecord {
  userId: string | null;
  subject: string;
}

const withUser = { ...emailRecordColumns, userId: emails.userId, subject: emails.subject };

/** Emails newest first, `limit` from `offset`, of one status or all, and how many match. */
export async function findEmails(
  db: Executor,
  filter: { status?: EmailStatus | undefined },
  page: { limit: number; offset: number },
): Promise<{ count: number; emails: EmailRecordWithUser[] }> {
  // One prepared statement per combination of filters, their values bound (prepared.ts).
  const filters = { status: filter.status };
  const where = () => (filter.status ? eq(emails.status, sql.placeholder("status")) : undefined);
  const { count: total, rows } = await filteredPage(db, "staff_emails", filters, page, {
    count: (e, name) => e.select({ n: count() }).from(emails).where(where()).prepare(name),
    rows: (e, name) =>
      e
        .select(withUser)
        .from(emails)
        .where(where())
        .orderBy(desc(emails.createdAt), desc(emails.id))
        .limit(sql.placeholder("limit"))
        .offset(sql.placeholder("offset"))
        .prepare(name),
  });
  return { count: total, emails: rows };
}

export async function findEmail(
  db: Executor,
  id: string,
): Promise<EmailRecordWithUser | undefined> {
  const [row] = await db.select(withUser).from(emails).where(eq(emails.id, id));
  return row;
}

/**
 * Queues a failed email's delivery again, in `tx`: the row goes back to `queued` and a send job
 * keyed by the email and its attempt count is enqueued, so a retried request queues it once.
 * Answers the email as it was (undefined: no such email) and whether this call queued it; an email
 * that is not `failed` is left alone.
 */
export async function requeueEmail<D extends EmailJobDeps>(
  tx: Tx,
  jobs: Jobs<D>,
  id: string,
): Promise<{ email: EmailRecordWithUser; queued: boolean } | undefined> {
  const [email] = await tx.select(withUser).from(emails).where(eq(emails.id, id)).for("update");
  if (!email) return undefined;
  if (email.status !== "failed") return { email, queued: false };
  await tx.update(emails).set({ status: "queued", updatedAt: new Date() }).where(eq(emails.id, id));
  const queued = await jobs.enqueue(
    tx,
    sendEmailJob,
    { emailId: id },
    { key: `${id}:retry:${email.attempts}` },
  );
  return { email, queued };
}

/** Removes a retried email's dead letters. Run after the retry committed. */
export async function dropEmailDeadLetters(
  db: Executor,
  jobs: QueueAccess,
  id: string,
): Promise<void> {
  await dropDeadLetters(db, jobs, SEND_EMAIL_QUEUE, { emailId: id });
}
