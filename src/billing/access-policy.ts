/**
 * May this user use the product now? One table of Stripe's subscription status × settings
 * (docs/access.md, 'The policy'), as a pure function of the subscription and the time, so every
 * row and boundary is tested without a database or Stripe.
 */

export interface AccessSettings {
  /** Seconds a `past_due` subscription keeps access after its first failed renewal. */
  gracePastDue: number;
  /** Seconds an `incomplete` subscription (first payment pending, e.g. 3-D Secure) has access. */
  graceIncomplete: number;
}

/** The facts of a subscription the policy reads. */
export interface AccessFacts {
  status: string;
  cancelAtPeriodEnd: boolean;
  cancelAt: Date | null;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  /** Stripe's `created`: when an `incomplete` subscription's first payment began. */
  createdAt: Date;
  /**
   * The first failed payment since the last successful one (from the payments table), when the
   * subscription is `past_due`; null when no failure is recorded yet.
   */
  firstFailureAt: Date | null;
}

export const ACCESS_REASONS = [
  "active",
  "trialing",
  "canceling",
  "payment_past_due",
  "payment_overdue",
  "payment_incomplete",
  "unpaid",
  "paused",
  "canceled",
  "incomplete_expired",
  "no_subscription",
] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

export interface AccessAnswer {
  allowed: boolean;
  reason: AccessReason;
  /** When the answer changes unless Stripe reports something new; null: not before then. */
  until: Date | null;
}

const at = (allowed: boolean, reason: AccessReason, until: Date | null = null): AccessAnswer => ({
  allowed,
  reason,
  until,
});

const plus = (t: Date, seconds: number) => new Date(t.getTime() + seconds * 1000);

/** A grace window from `since`: allowed strictly before its end. */
function grace(since: Date, seconds: number, reason: AccessReason, after: AccessReason, now: Date) {
  const end = plus(since, seconds);
  return now < end ? at(true, reason, end) : at(false, after);
}

/** The status alone, before a scheduled cancellation is applied. */
function byStatus(f: AccessFacts, s: AccessSettings, now: Date): AccessAnswer {
  switch (f.status) {
    case "active":
      return at(true, "active");
    case "trialing":
      return at(true, "trialing");
    case "past_due": {
      // The failure that opened this episode. Before its webhook is in, the renewal invoice's
      // period start stands in: it comes before the first attempt, so the grace never runs long.
      const since = f.firstFailureAt ?? f.currentPeriodStart ?? f.createdAt;
      return grace(since, s.gracePastDue, "payment_past_due", "payment_overdue", now);
    }
    case "incomplete":
      return grace(f.createdAt, s.graceIncomplete, "payment_incomplete", "payment_incomplete", now);
    case "unpaid":
      return at(false, "unpaid");
    case "paused":
      return at(false, "paused");
    case "incomplete_expired":
      return at(false, "incomplete_expired");
    default:
      // canceled, and any status Stripe may add: no access until we know what it means.
      return at(false, "canceled");
  }
}

/**
 * The answer for a user's current subscription (null: none). A cancellation scheduled at the
 * period end (or at `cancel_at`) keeps access until that instant, and ends it then even if the
 * `customer.subscription.deleted` webhook is late.
 */
export function accessPolicy(
  facts: AccessFacts | null,
  settings: AccessSettings,
  now: Date,
): AccessAnswer {
  if (!facts) return at(false, "no_subscription");
  const answer = byStatus(facts, settings, now);
  const end = facts.cancelAt ?? (facts.cancelAtPeriodEnd ? facts.currentPeriodEnd : null);
  if (!answer.allowed || !end) return answer;
  if (now >= end) return at(false, "canceled");
  const until = answer.until && answer.until < end ? answer.until : end;
  const reason =
    answer.reason === "active" || answer.reason === "trialing" ? "canceling" : answer.reason;
  return at(true, reason, until);
}
