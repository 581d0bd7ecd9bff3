import { eq } from "drizzle-orm";
import { Type } from "typebox";
import type { Config } from "../../config.ts";
import type { Database } from "../db/client.ts";
import { defineJob, type RetryPolicy } from "../jobs/definitions.ts";
import type { Logger } from "../logging.ts";
import type { Metrics } from "../metrics.ts";
import { emails } from "./email-tables.ts";
import type { Mailer } from "./mailer.ts";

export interface EmailJobDeps {
  database: Database;
  mailer: Mailer;
  logger: Logger;
  metrics?: Metrics;
}

export const SEND_EMAIL_QUEUE = "email.send";

/**
 * The original retried each email 3 times, 60 s apart (Celery); EMAIL_RETRY_LIMIT and
 * EMAIL_RETRY_DELAY keep that default. No backoff: a mail server that is down for minutes should
 * not push a welcome email hours out.
 */
export function emailRetryPolicy(config: Config): Partial<RetryPolicy> {
  return {
    limit: config.EMAIL_RETRY_LIMIT,
    delaySeconds: config.EMAIL_RETRY_DELAY,
    backoff: false,
  };
}

/**
 * Sends one recorded email. Safe to run twice: a row already `sent` is left alone. The one gap is a
 * crash between the server accepting the message and the row update, which resends it once
 * (at-least-once delivery; SMTP offers nothing stronger).
 */
export const sendEmailJob = defineJob({
  name: SEND_EMAIL_QUEUE,
  payload: Type.Object({ emailId: Type.String({ format: "uuid" }) }),
  async handler({ emailId }, deps: EmailJobDeps, job) {
    const { db } = deps.database;
    const [email] = await db.select().from(emails).where(eq(emails.id, emailId));
    if (!email || email.status === "sent") return;
    const attempts = email.attempts + 1;
    try {
      const { messageId } = await deps.mailer.send({
        to: email.recipient,
        subject: email.subject,
        text: email.textBody,
        html: email.htmlBody,
      });
      await db
        .update(emails)
        .set({
          status: "sent",
          attempts,
          sentAt: new Date(),
          providerMessageId: messageId,
          lastError: null,
          updatedAt: new Date(),
        })
        .where(eq(emails.id, emailId));
      deps.metrics?.emails.inc({ template: email.template, outcome: "sent" });
    } catch (err) {
      const lastError = err instanceof Error ? err.message : String(err);
      await db
        .update(emails)
        .set({
          status: job.lastAttempt ? "failed" : "retrying",
          attempts,
          lastError,
          updatedAt: new Date(),
        })
        .where(eq(emails.id, emailId));
      deps.metrics?.emails.inc({ template: email.template, outcome: "failed" });
      deps.logger.warn(
        { emailId, template: email.template, attempts, err: lastError },
        job.lastAttempt ? "email failed; dead-lettered" : "email failed; will retry",
      );
      throw err;
    }
  },
});
