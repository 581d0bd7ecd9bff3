import {
  type EmailTemplate,
  escapeHtml,
  greetingName,
  htmlLayout,
} from "../platform/email/templates.ts";

export interface WelcomeData {
  firstName: string;
  username: string;
}

/** Sent once per account, on registration (the original's `send_welcome_email`). */
export const welcomeEmail: EmailTemplate<WelcomeData> = {
  name: "accounts.welcome",
  render(data, ctx) {
    // The only place the name appears, in both parts (see greetingName).
    const name = greetingName(data.firstName || data.username);
    const plans = ctx.link("/plans");
    const subject = "Welcome to SaaS Billing!";
    const text = [
      `Hi ${name},`,
      "",
      "Thanks for signing up. Your account is ready.",
      `Choose a plan to get started: ${plans}`,
      "",
      "— The SaaS Billing team",
    ].join("\n");
    const html = htmlLayout(
      subject,
      [
        `<p>Hi ${escapeHtml(name)},</p>`,
        "<p>Thanks for signing up. Your account is ready.</p>",
        `<p><a href="${escapeHtml(plans)}">Choose a plan to get started</a></p>`,
        "<p>— The SaaS Billing team</p>",
      ].join("\n"),
    );
    return { subject, text, html };
  },
};
