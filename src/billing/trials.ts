import { and, eq, isNotNull, or } from "drizzle-orm";
import type Stripe from "stripe";
import type { User } from "../accounts/index.ts";
import type { Executor, Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import { day, defineEmail, greetingName } from "../platform/email/templates.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { subscriptions } from "./billing-tables.ts";
import type { Plan } from "./plans-service.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";

// Trials (docs/plan-changes.md, 'Trials'): a plan's `trial_days`, once per user, with or without a
// card. Stripe runs the trial (`trial_period_days`) and its end (`trial_settings`); we choose who
// gets one and send the emails.

/**
 * The trial a new subscription to `plan` gets: the plan's days, unless the user has had a
 * subscription that started or a trial before (a returning user pays from the first day).
 */
export async function trialDaysFor(db: Executor, userId: string, plan: Plan): Promise<number> {
  if (plan.trialDays === 0) return 0;
  const [before] = await db
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.userId, userId),
        or(eq(subscriptions.started, true), isNotNull(subscriptions.trialStart)),
      ),
    )
    .limit(1);
  return before ? 0 : plan.trialDays;
}

/** `subscriptions.create` parameters for a trial of `days` (none for 0). */
export function trialParams(
  days: number,
  config: BillingDeps["config"],
): Partial<Stripe.SubscriptionCreateParams> {
  if (days === 0) return {};
  return {
    trial_period_days: days,
    // Without a card, what the trial's end does: the setting (cancel, pause, create_invoice).
    trial_settings: { end_behavior: { missing_payment_method: config.TRIAL_WITHOUT_CARD_END } },
  };
}

interface TrialData {
  name: string;
  planName: string;
  trialEnd: string;
  withCard: boolean;
}

const SIGNATURE = "— The {{product}} team";

export const trialStartedEmail = defineEmail<TrialData>({
  name: "billing.trial_started",
  subject: "Your {{planName}} trial has started",
  body: [
    "Hi {{name}},",
    "",
    "Your free {{planName}} trial runs until {{trialEnd}}.",
    "{{#withCard}}Your card is charged then unless you cancel before.{{/withCard}}",
    "{{#withoutCard}}Add a card before then to keep your subscription.{{/withoutCard}}",
    "",
    "[Your billing]({{billingUrl}})",
    "",
    SIGNATURE,
  ].join("\n"),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    trialEnd: day(data.trialEnd),
    withCard: data.withCard ? "yes" : null,
    withoutCard: data.withCard ? null : "yes",
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", trialEnd: "2026-02-01T00:00:00Z", withCard: true },
});

export const trialConvertedEmail = defineEmail<Omit<TrialData, "withCard">>({
  name: "billing.trial_converted",
  subject: "Your {{planName}} trial is now a subscription",
  body: [
    "Hi {{name}},",
    "",
    "Your {{planName}} trial ended on {{trialEnd}} and your subscription has started.",
    "",
    "[Your billing]({{billingUrl}})",
    "",
    SIGNATURE,
  ].join("\n"),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    trialEnd: day(data.trialEnd),
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", trialEnd: "2026-02-01T00:00:00Z" },
});

/** The reminder before a trial without a card ends: how to add one. */
export const trialEndingWithoutCardEmail = defineEmail<Omit<TrialData, "withCard">>({
  name: "billing.trial_ending_without_card",
  subject: "Your trial ends soon: add a card",
  body: [
    "Hi {{name}},",
    "",
    "Your {{planName}} trial ends on {{trialEnd}} and there is no card on your account.",
    "Add a card on your billing page before then to keep your subscription.",
    "",
    "[Add a card]({{billingUrl}})",
    "",
    SIGNATURE,
  ].join("\n"),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    trialEnd: day(data.trialEnd),
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", trialEnd: "2026-02-01T00:00:00Z" },
});

/** "Trial started", once per subscription, in the transaction that records it. */
export async function queueTrialStarted(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  user: User,
  row: SubscriptionRow,
  plan: Plan,
  withCard: boolean,
): Promise<void> {
  if (row.status !== "trialing" || !row.trialEnd) return;
  await queueEmail(tx, deps, {
    to: user.email,
    template: trialStartedEmail,
    data: {
      name: user.firstName || user.username,
      planName: plan.name,
      trialEnd: row.trialEnd.toISOString(),
      withCard,
    },
    causeKey: row.stripeSubscriptionId,
    userId: user.id,
  });
}

/**
 * "Trial converted" for a paid invoice that bills the first period after the trial (its period
 * starts at the trial's end): once per subscription and trial end.
 */
export async function queueTrialConverted(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  at: { user: User; row: SubscriptionRow | null; planName: string; invoice: Stripe.Invoice },
): Promise<void> {
  const trialEnd = at.row?.trialEnd;
  if (!at.row || !trialEnd || at.invoice.billing_reason !== "subscription_cycle") return;
  const starts = at.invoice.lines.data.map((line) => line.period.start);
  if (!starts.includes(trialEnd.getTime() / 1000)) return;
  await queueEmail(tx, deps, {
    to: at.user.email,
    template: trialConvertedEmail,
    data: {
      name: at.user.firstName || at.user.username,
      planName: at.planName,
      trialEnd: trialEnd.toISOString(),
    },
    causeKey: `${at.row.stripeSubscriptionId}:${trialEnd.getTime() / 1000}`,
    userId: at.user.id,
  });
}
