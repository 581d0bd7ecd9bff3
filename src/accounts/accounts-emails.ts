import { defineEmail, greetingName, humanDuration } from "../platform/email/templates.ts";

export interface WelcomeData {
  firstName: string;
  username: string;
  /** The email verification token (email-verification.ts) and how long it works; none: no link. */
  verifyToken?: string | undefined;
  verifyLifetimeSeconds?: number | undefined;
}

/**
 * Sent once per account, on registration (the original's `send_welcome_email`). It carries the
 * first email verification link, so registering sends one email, not two.
 */
export const welcomeEmail = defineEmail<WelcomeData>({
  name: "accounts.welcome",
  subject: "Welcome to {{product}}!",
  body: [
    "Hi {{name}},",
    "",
    "Thanks for signing up. Your account is ready.",
    "[Choose a plan to get started]({{plansUrl}})",
    "",
    "{{#verifyUrl}}[Please confirm your email address]({{verifyUrl}}){{/verifyUrl}}",
    "{{#validFor}}The link works for {{validFor}}.{{/validFor}}",
    "",
    "— The {{product}} team",
  ].join("\n"),
  // The only place the name appears, in both parts (see greetingName).
  values: (data, ctx) => ({
    name: greetingName(data.firstName || data.username),
    plansUrl: ctx.link("/plans"),
    verifyUrl: data.verifyToken ? ctx.link("/verify-email", { token: data.verifyToken }) : null,
    validFor: data.verifyLifetimeSeconds ? humanDuration(data.verifyLifetimeSeconds) : null,
  }),
  sample: {
    firstName: "Ada",
    username: "ada",
    verifyToken: "sample-token",
    verifyLifetimeSeconds: 259200,
  },
});
