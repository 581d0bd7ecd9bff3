import { defineEmail, greetingName, humanDuration } from "../platform/email/templates.ts";

/** The emails that carry an account token (account-tokens.ts), and the notice a reset sends. */

interface Named {
  firstName: string;
  username: string;
}

const name = (data: Named) => greetingName(data.firstName || data.username);

export interface VerifyEmailData extends Named {
  email: string;
  token: string;
  lifetimeSeconds: number;
}

/** A new verification link, on request (the first one rides on the welcome email). */
export const verifyEmailEmail = defineEmail<VerifyEmailData>({
  name: "accounts.verify_email",
  subject: "Confirm your email address",
  body: [
    "Hi {{name}},",
    "",
    "Please confirm that {{email}} is your email address for {{product}}.",
    "[Confirm your email address]({{verifyUrl}})",
    "The link works once, for {{validFor}}; it replaces any earlier one.",
    "",
    "— The {{product}} team",
  ].join("\n"),
  values: (data, ctx) => ({
    name: name(data),
    email: data.email,
    // The web app's page posts the token to POST /api/auth/verify-email/.
    verifyUrl: ctx.link("/verify-email", { token: data.token }),
    validFor: humanDuration(data.lifetimeSeconds),
  }),
  sample: {
    firstName: "Ada",
    username: "ada",
    email: "ada@example.com",
    token: "sample-token",
    lifetimeSeconds: 259200,
  },
});

export interface PasswordResetData extends Named {
  token: string;
  lifetimeSeconds: number;
}

export const passwordResetEmail = defineEmail<PasswordResetData>({
  name: "accounts.password_reset",
  subject: "Reset your {{product}} password",
  body: [
    "Hi {{name}},",
    "",
    "Someone asked to reset the password of your {{product}} account.",
    "[Choose a new password]({{resetUrl}})",
    "The link works once, for {{validFor}}; it replaces any earlier one.",
    "",
    "If it was not you, ignore this email: your password stays as it is.",
    "",
    "— The {{product}} team",
  ].join("\n"),
  values: (data, ctx) => ({
    name: name(data),
    // The web app's page posts the token and the new password to POST /api/auth/password-reset/confirm/.
    resetUrl: ctx.link("/reset-password", { token: data.token }),
    validFor: humanDuration(data.lifetimeSeconds),
  }),
  sample: {
    firstName: "Ada",
    username: "ada",
    token: "sample-token",
    lifetimeSeconds: 3600,
  },
});

export interface PasswordChangedData extends Named {
  /** ISO time of the change. */
  changedAt: string;
}

/** After a reset or a change: the owner learns of a change they did not make. */
export const passwordChangedEmail = defineEmail<PasswordChangedData>({
  name: "accounts.password_changed",
  subject: "Your {{product}} password was changed",
  body: [
    "Hi {{name}},",
    "",
    "The password of your {{product}} account was changed at {{changedAt}} (UTC).",
    "Every device signed in with the old password has been signed out.",
    "",
    "If it was not you, reset your password now:",
    "[Reset your password]({{resetUrl}})",
    "",
    "— The {{product}} team",
  ].join("\n"),
  values: (data, ctx) => ({
    name: name(data),
    changedAt: data.changedAt.slice(0, 16).replace("T", " "),
    resetUrl: ctx.link("/reset-password"),
  }),
  sample: { firstName: "Ada", username: "ada", changedAt: "2026-01-01T12:30:00Z" },
});
