import type { Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { cancellationEmail } from "./billing-emails.ts";
import { type Applied, accessEndsAt, RetryLater } from "./subscription-projection.ts";

/**
 * The cancellation email for each written snapshot that shows a cancellation, in the transaction
 * that wrote it. Every caller that writes Stripe state calls this next to the write: whoever
 * learns of a cancellation first (the API's answer or the webhook) queues it, once per
 * subscription and end date.
 */
export async function queueCancellationEmails(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  applied: (Applied | RetryLater)[],
): Promise<void> {
  for (const one of applied) {
    if (one instanceof RetryLater || !one.written) continue;
    const { row, user, plan } = one;
    const endsAt = accessEndsAt(row);
    if (!row.started || !endsAt) continue;
    await queueEmail(tx, deps, {
      to: user.email,
      template: cancellationEmail,
      data: {
        name: user.firstName || user.username,
        planName: plan?.name ?? "subscription",
        accessEndsAt: endsAt.toISOString(),
      },
      // One email per subscription and end date: a webhook and the API response that both show
      // the same cancellation produce one; a reactivation and a new, later end date another.
      causeKey: `${row.stripeSubscriptionId}:${endsAt.toISOString()}`,
      userId: user.id,
    });
  }
}
