import { and, desc, eq } from "drizzle-orm";
import type { Executor, Tx } from "../db/client.ts";
import type { Jobs } from "../jobs/jobs.ts";
import { type EmailJobDeps, sendEmailJob } from "./email-jobs.ts";
import { emails } from "./email-tables.ts";
import { type EmailConfig, type EmailTemplate, emailContext } from "./templates.ts";

export interface QueueEmailDeps<D extends EmailJobDeps> {
  jobs: Jobs<D>;
  config: EmailConfig;
}

export interface QueueEmailInput<T> {
  to: string;
  template: EmailTemplate<T>;
  data: T;
  /** What caused this email; (template, causeKey) is sent at most once, ever. */
  causeKey: string;
  userId?: string;
}

/**
 * `.invalid` is reserved by RFC 2606 and RFC 6761 as a name that never resolves: no mail to it can
 * be delivered. Deleted accounts keep such a placeholder address (docs/accounts.md), so an email a
 * late webhook causes for one is dropped here instead of failing delivery and dead-lettering.
 */
export function isUndeliverable(address: string): boolean {
  return /\.invalid>?$/i.test(address.trim());
}

/**
 * Records an email and enqueues its delivery inside `tx`, the transaction that records its cause
 * (docs/architecture.md, 'Side effects exactly once'): the email exists exactly when the cause
 * committed. Queueing the same (template, causeKey) again does nothing, and so does queueing to an
 * undeliverable address. Returns whether this call queued it.
 */
export async function queueEmail<T, D extends EmailJobDeps>(
  tx: Tx,
  deps: QueueEmailDeps<D>,
  input: QueueEmailInput<T>,
): Promise<boolean> {
  if (isUndeliverable(input.to)) return false;
  const rendered = input.template.render(input.data, emailContext(deps.config));
  const [row] = await tx
    .insert(emails)
    .values({
      recipient: input.to,
      template: input.template.name,
      causeKey: input.causeKey,
      userId: input.userId ?? null,
      subject: rendered.subject,
      textBody: rendered.text,
      htmlBody: rendered.html,
    })
    .onConflictDoNothing({ target: [emails.template, emails.causeKey] })
    .returning({ id: emails.id });
  if (!row) return false;
  await deps.jobs.enqueue(tx, sendEmailJob, { emailId: row.id }, { key: row.id });
  return true;
}

/** The columns of an `EmailRecord`. */
export const emailRecordColumns = {
  id: emails.id,
  recipient: emails.recipient,
  template: emails.template,
  causeKey: emails.causeKey,
  status: emails.status,
  attempts: emails.attempts,
  lastError: emails.lastError,
  sentAt: emails.sentAt,
  providerMessageId: emails.providerMessageId,
  createdAt: emails.createdAt,
};

export interface EmailRecord {
  id: string;
  recipient: string;
  template: string;
  causeKey: string;
  status: string;
  attempts: number;
  lastError: string | null;
  sentAt: Date | null;
  providerMessageId: string | null;
  createdAt: Date;
}

/** The newest emails first, optionally of one status, for operators. */
export async function listEmails(
  db: Executor,
  options: { status?: string; limit?: number; recipient?: string } = {},
): Promise<EmailRecord[]> {
  const filters = [
    options.status ? eq(emails.status, options.status) : undefined,
    options.recipient ? eq(emails.recipient, options.recipient) : undefined,
  ].filter((f) => f !== undefined);
  const query = db.select(emailRecordColumns).from(emails);
  const filtered = filters.length > 0 ? query.where(and(...filters)) : query;
  return filtered.orderBy(desc(emails.createdAt)).limit(options.limit ?? 50);
}
