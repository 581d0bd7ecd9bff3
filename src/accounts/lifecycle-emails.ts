import { defineEmail, greetingName, humanDuration } from "../platform/email/templates.ts";
import type { WelcomeData } from "./accounts-emails.ts";

/** The emails of an email change (email-change.ts) and of an account deletion (account-deletion.ts). */

type Named = Pick<WelcomeData, "firstName" | "username">;

const name = (data: Named) => greetingName(data.firstName || data.username);

export interface ConfirmEmailChangeData extends Named {
  newEmail: string;
  token: string;
  lifetimeSeconds: number;
}

/** To the new address: the change happens only once its owner follows the link. */
export const confirmEmailChangeEmail = defineEmail<ConfirmEmailChangeData>({
  name: "accounts.change_email_confirm",
  subject: "Confirm your new {{product}} email address",
  body: [
    "Hi {{name}},",
    "",
    "Please confirm that {{newEmail}} should become the email address of your {{product}} account.",
    "[Confirm the new address]({{confirmUrl}})",
    "The link works once, for {{validFor}}; it replaces any earlier one.",
    "",
    "If you did not ask for this, ignore this email: nothing changes.",
    "",
    "— The {{product}} team",
  ].join("\n"),
  values: (data, ctx) => ({
    name: name(data),
    newEmail: data.newEmail,
    // The web app's page posts the token to POST /api/auth/change-email/confirm/.
    confirmUrl: ctx.link("/confirm-email-change", { token: data.token }),
    validFor: humanDuration(data.lifetimeSeconds),
  }),
  sample: {
    firstName: "Ada",
    username: "ada",
    newEmail: "ada@new.example.com",
    token: "sample-token",
    lifetimeSeconds: 86400,
  },
});

export interface EmailChangeNoticeData extends Named {
  newEmail: string;
}

/** To the old address: the owner learns of a change they did not ask for, before it happens. */
export const emailChangeNoticeEmail = defineEmail<EmailChangeNoticeData>({
  name: "accounts.change_email_notice",
  subject: "A new email address was requested for your {{product}} account",
  body: [
    "Hi {{name}},",
    "",
    "Someone signed in to your {{product}} account asked to change its email address to {{newEmail}}.",
    "Nothing changes until the new address is confirmed.",
    "",
    "If it was not you, change your password now:",
    "[Reset your password]({{resetUrl}})",
    "",
    "— The {{product}} team",
  ].join("\n"),
  values: (data, ctx) => ({
    name: name(data),
    newEmail: data.newEmail,
    resetUrl: ctx.link("/reset-password"),
  }),
  sample: { firstName: "Ada", username: "ada", newEmail: "ada@new.example.com" },
});

export interface GoodbyeData extends Named {
  /** ACCOUNT_DELETE_CANCEL=period_end: a live subscription runs to the end of its paid period. */
  atPeriodEnd: boolean;
}

/** To the address being forgotten, queued in the transaction that erases it. */
export const goodbyeEmail = defineEmail<GoodbyeData>({
  name: "accounts.goodbye",
  subject: "Your {{product}} account has been deleted",
  body: [
    "Hi {{name}},",
    "",
    "Your {{product}} account has been deleted, as you asked. " +
      "{{#now}}Any subscription you had is canceled{{/now}}" +
      "{{#atPeriodEnd}}Any subscription you had ends with the period you paid for{{/atPeriodEnd}}, " +
      "your saved cards are removed, and we no longer hold your email address or your name.",
    "Invoices and payments stay on record, without your name, as accounting law requires.",
    "",
    "Thank you for having been with us. You are welcome back any time:",
    "[{{product}}]({{homeUrl}})",
    "",
    "— The {{product}} team",
  ].join("\n"),
  values: (data, ctx) => ({
    name: name(data),
    homeUrl: ctx.link("/"),
    now: data.atPeriodEnd ? null : "yes",
    atPeriodEnd: data.atPeriodEnd ? "yes" : null,
  }),
  sample: { firstName: "Ada", username: "ada", atPeriodEnd: false },
});
