import { day, defineEmail, greetingName } from "../platform/email/templates.ts";

/**
 * Billing emails. Each is queued with a cause key (invoice, attempt, …) so it goes out once. They
 * share one shape: a greeting, the facts, one link, the signature.
 */

interface Greeting {
  name: string;
}

const SIGNATURE = "— The {{product}} team";

/** The letter every billing email is: `facts` lines, then `[label]({{url}})`. */
function letter(facts: string, link: string): string {
  return ["Hi {{name}},", "", facts, "", link, "", SIGNATURE].join("\n");
}

export interface ConfirmationData extends Greeting {
  planName: string;
  /** "9.99 USD". */
  amount: string;
  periodEnd: string | null;
}

/** A paid invoice: the original's `send_subscription_confirmation_email`. */
export const subscriptionConfirmationEmail = defineEmail<ConfirmationData>({
  name: "billing.subscription_confirmation",
  subject: "Payment received: {{planName}}",
  body: letter(
    [
      "We received your payment of {{amount}} for the {{planName}} plan.",
      "{{#periodEnd}}Your subscription is paid until {{periodEnd}}.{{/periodEnd}}",
    ].join("\n"),
    "[Your billing]({{billingUrl}})",
  ),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    amount: data.amount,
    periodEnd: data.periodEnd && day(data.periodEnd),
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", amount: "9.99 USD", periodEnd: "2026-02-01T00:00:00Z" },
});

export interface PaymentFailedData extends Greeting {
  planName: string;
  amount: string;
  hostedInvoiceUrl: string | null;
}

export const paymentFailedEmail = defineEmail<PaymentFailedData>({
  name: "billing.payment_failed",
  subject: "Your payment failed",
  body: letter(
    [
      "We could not charge {{amount}} for your {{planName}} subscription.",
      "Please pay the invoice or update your card to keep your access.",
    ].join("\n"),
    "[Pay the invoice]({{payUrl}})",
  ),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    amount: data.amount,
    payUrl: data.hostedInvoiceUrl ?? ctx.link("/billing"),
  }),
  sample: {
    name: "Ada",
    planName: "Pro",
    amount: "9.99 USD",
    hostedInvoiceUrl: "https://invoice.stripe.com/i/acct_1/test_1",
  },
});

export interface ActionRequiredData extends Greeting {
  planName: string;
  amount: string;
  hostedInvoiceUrl: string | null;
}

export const paymentActionRequiredEmail = defineEmail<ActionRequiredData>({
  name: "billing.payment_action_required",
  subject: "Please confirm your payment",
  body: letter(
    "Your bank asks you to confirm the payment of {{amount}} for your {{planName}} subscription.",
    "[Confirm the payment]({{payUrl}})",
  ),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    amount: data.amount,
    payUrl: data.hostedInvoiceUrl ?? ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", amount: "9.99 USD", hostedInvoiceUrl: null },
});

export interface CancellationData extends Greeting {
  planName: string;
  /** ISO time access ends (now for an immediate cancellation). */
  accessEndsAt: string;
}

export const cancellationEmail = defineEmail<CancellationData>({
  name: "billing.cancellation",
  subject: "Your subscription is canceled",
  body: letter(
    [
      "Your {{planName}} subscription has been canceled.",
      "You have access until {{accessEndsAt}}.",
    ].join("\n"),
    "[Resubscribe any time]({{plansUrl}})",
  ),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    accessEndsAt: day(data.accessEndsAt),
    plansUrl: ctx.link("/plans"),
  }),
  sample: { name: "Ada", planName: "Pro", accessEndsAt: "2026-02-01T00:00:00Z" },
});

export interface TrialEndingData extends Greeting {
  planName: string;
  trialEnd: string;
}

export const trialEndingEmail = defineEmail<TrialEndingData>({
  name: "billing.trial_ending",
  subject: "Your trial ends soon",
  body: letter(
    [
      "Your {{planName}} trial ends on {{trialEnd}}.",
      "Your card will be charged then unless you cancel.",
    ].join("\n"),
    "[Manage your subscription]({{billingUrl}})",
  ),
  values: (data, ctx) => ({
    name: greetingName(data.name),
    planName: data.planName,
    trialEnd: day(data.trialEnd),
    billingUrl: ctx.link("/billing"),
  }),
  sample: { name: "Ada", planName: "Pro", trialEnd: "2026-02-01T00:00:00Z" },
});
