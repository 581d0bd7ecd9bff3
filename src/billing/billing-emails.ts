import {
  type EmailTemplate,
  escapeHtml,
  greetingName,
  htmlLayout,
} from "../platform/email/templates.ts";

/** Billing emails. Each is queued with a cause key (invoice, attempt, …) so it goes out once. */

interface Greeting {
  name: string;
}

function letter(subject: string, greeting: Greeting, lines: string[], link?: [string, string]) {
  const name = greetingName(greeting.name);
  const text = [
    `Hi ${name},`,
    "",
    ...lines,
    ...(link ? ["", `${link[0]}: ${link[1]}`] : []),
    "",
    "— The SaaS Billing team",
  ].join("\n");
  const html = htmlLayout(
    subject,
    [
      `<p>Hi ${escapeHtml(name)},</p>`,
      ...lines.map((l) => `<p>${escapeHtml(l)}</p>`),
      ...(link ? [`<p><a href="${escapeHtml(link[1])}">${escapeHtml(link[0])}</a></p>`] : []),
      "<p>— The SaaS Billing team</p>",
    ].join("\n"),
  );
  return { subject, text, html };
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

export interface ConfirmationData extends Greeting {
  planName: string;
  /** "9.99 USD". */
  amount: string;
  periodEnd: string | null;
}

/** A paid invoice: the original's `send_subscription_confirmation_email`. */
export const subscriptionConfirmationEmail: EmailTemplate<ConfirmationData> = {
  name: "billing.subscription_confirmation",
  render(data, ctx) {
    return letter(
      `Payment received: ${data.planName}`,
      data,
      [
        `We received your payment of ${data.amount} for the ${data.planName} plan.`,
        ...(data.periodEnd ? [`Your subscription is paid until ${day(data.periodEnd)}.`] : []),
      ],
      ["Your billing", ctx.link("/billing")],
    );
  },
};

export interface PaymentFailedData extends Greeting {
  planName: string;
  amount: string;
  hostedInvoiceUrl: string | null;
}

export const paymentFailedEmail: EmailTemplate<PaymentFailedData> = {
  name: "billing.payment_failed",
  render(data, ctx) {
    return letter(
      "Your payment failed",
      data,
      [
        `We could not charge ${data.amount} for your ${data.planName} subscription.`,
        "Please pay the invoice or update your card to keep your access.",
      ],
      ["Pay the invoice", data.hostedInvoiceUrl ?? ctx.link("/billing")],
    );
  },
};

export interface ActionRequiredData extends Greeting {
  planName: string;
  amount: string;
  hostedInvoiceUrl: string | null;
}

export const paymentActionRequiredEmail: EmailTemplate<ActionRequiredData> = {
  name: "billing.payment_action_required",
  render(data, ctx) {
    return letter(
      "Please confirm your payment",
      data,
      [
        `Your bank asks you to confirm the payment of ${data.amount} for your ${data.planName} subscription.`,
      ],
      ["Confirm the payment", data.hostedInvoiceUrl ?? ctx.link("/billing")],
    );
  },
};

export interface CancellationData extends Greeting {
  planName: string;
  /** ISO time access ends (now for an immediate cancellation). */
  accessEndsAt: string;
}

export const cancellationEmail: EmailTemplate<CancellationData> = {
  name: "billing.cancellation",
  render(data, ctx) {
    return letter(
      "Your subscription is canceled",
      data,
      [
        `Your ${data.planName} subscription has been canceled.`,
        `You have access until ${day(data.accessEndsAt)}.`,
      ],
      ["Resubscribe any time", ctx.link("/plans")],
    );
  },
};

export interface TrialEndingData extends Greeting {
  planName: string;
  trialEnd: string;
}

export const trialEndingEmail: EmailTemplate<TrialEndingData> = {
  name: "billing.trial_ending",
  render(data, ctx) {
    return letter(
      "Your trial ends soon",
      data,
      [
        `Your ${data.planName} trial ends on ${day(data.trialEnd)}.`,
        "Your card will be charged then unless you cancel.",
      ],
      ["Manage your subscription", ctx.link("/billing")],
    );
  },
};
