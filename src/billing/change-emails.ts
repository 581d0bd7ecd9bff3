import type { User } from "../accounts/index.ts";
import type { Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import { day, defineEmail, greetingName } from "../platform/email/templates.ts";
import type { BillingDeps } from "./billing-deps.ts";

/**
 * The plan-change emails. Each is queued in the transaction that records its change
 * (`subscription_changes`), with the change's id as its cause, so a change is announced once
 * whatever retries or duplicate requests happen. The receipt for a proration charge is the
 * ordinary one (`billing.subscription_confirmation`), sent for every paid invoice.
 */

interface ChangeData {
  name: string;
  planName: string;
  /** Seats on a per-seat plan; null otherwise. */
  seats: number | null;
}

const SIGNATURE = "— The {{product}} team";
const PLAN = "the {{planName}} plan{{#seats}} ({{seats}} seats){{/seats}}";

export const planChangedEmail = defineEmail<ChangeData>({
  name: "billing.plan_changed",
  subject: "Your plan has changed: {{planName}}",
  body: [
    "Hi {{name}},",
    "",
    `Your subscription is now on ${PLAN}.`,
    "Any difference for the rest of this period is charged or credited on your account.",
    "",
    "[Your billing]({{billingUrl}})",
    "",
    SIGNATURE,
  ].join("\n"),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    seats: data.seats === null ? null : String(data.seats),
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", seats: 5 },
});

export const planChangeScheduledEmail = defineEmail<ChangeData & { effectiveAt: string }>({
  name: "billing.plan_change_scheduled",
  subject: "Your plan changes on {{effectiveAt}}",
  body: [
    "Hi {{name}},",
    "",
    `On {{effectiveAt}}, at the end of the period you have paid for, your subscription moves to ${PLAN}.`,
    "Until then nothing changes. You can cancel this change from your billing page.",
    "",
    "[Your billing]({{billingUrl}})",
    "",
    SIGNATURE,
  ].join("\n"),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    seats: data.seats === null ? null : String(data.seats),
    effectiveAt: day(data.effectiveAt),
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Starter", seats: null, effectiveAt: "2026-02-01T00:00:00Z" },
});

/** Queues the email for change `changeId`: "changed" when it applied now, else "scheduled". */
export async function queueChangeEmail(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  change: {
    id: string;
    user: User;
    planName: string;
    seats: number | null;
    scheduledFor: Date | null;
  },
): Promise<void> {
  const base = {
    name: change.user.firstName || change.user.username,
    planName: change.planName,
    seats: change.seats,
  };
  const common = { to: change.user.email, causeKey: change.id, userId: change.user.id };
  if (change.scheduledFor) {
    await queueEmail(tx, deps, {
      ...common,
      template: planChangeScheduledEmail,
      data: { ...base, effectiveAt: change.scheduledFor.toISOString() },
    });
  } else {
    await queueEmail(tx, deps, { ...common, template: planChangedEmail, data: base });
  }
}
