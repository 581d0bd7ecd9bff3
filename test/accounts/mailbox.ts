import type { TestApp } from "../helpers/app.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";
import { startAccountsApp } from "./helpers.ts";

/** SMTP settings pointing the app at a test server (test/helpers/smtp.ts). */
export function smtpEnv(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    EMAIL_HOST: "127.0.0.1",
    EMAIL_PORT: String(port),
    EMAIL_USE_TLS: "false",
    EMAIL_RETRY_DELAY: "0",
    DEFAULT_FROM_EMAIL: "Billing <billing@example.test>",
    FRONTEND_URL: "https://app.example.test",
    ...extra,
  };
}

/** The accounts app delivering to a real SMTP server of its own. */
export async function startMailingApp(
  env: Record<string, string>,
): Promise<{ t: TestApp; smtp: SmtpServer; close(): Promise<void> }> {
  const smtp = await startSmtp(() => 0);
  const t = await startAccountsApp({ env: smtpEnv(smtp.port, env) });
  return {
    t,
    smtp,
    async close() {
      await t.close();
      await smtp.close();
    },
  };
}

export interface Mail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
}

function decode(body: string, encoding: string): string {
  if (encoding === "base64")
    return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    const bytes = body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_all, hex: string) =>
        String.fromCharCode(Number.parseInt(hex, 16)),
      );
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  return body;
}

/** One MIME part of a message as nodemailer writes it (multipart/alternative, text then HTML). */
function part(raw: string, type: "text/plain" | "text/html"): string {
  const start = raw.search(new RegExp(`Content-Type: ${type}`, "i"));
  if (start < 0) throw new Error(`no ${type} part in:\n${raw}`);
  const rest = raw.slice(start);
  const headersEnd = rest.search(/\r?\n\r?\n/);
  const headers = rest.slice(0, headersEnd);
  const body = rest.slice(headersEnd).replace(/^\r?\n\r?\n/, "");
  // The part ends at the next MIME boundary, not at any line starting with "--": a
  // quoted-printable line can (a token with a "-" in it, wrapped just before it).
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  const end = boundary ? body.indexOf(`\n--${boundary}`) : body.search(/\r?\n--/);
  const encoding = /Content-Transfer-Encoding: ([\w-]+)/i.exec(headers)?.[1]?.toLowerCase() ?? "";
  return decode(end < 0 ? body : body.slice(0, end).replace(/\r$/, ""), encoding).replace(
    /\r\n/g,
    "\n",
  );
}

/** The decoded subject (nodemailer encodes non-ASCII subjects as RFC 2047 words). */
function subject(raw: string): string {
  const line = /^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? "";
  return line
    .replace(/\r?\n[ \t]/g, " ")
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_all, kind: string, text: string) =>
      kind.toUpperCase() === "B"
        ? Buffer.from(text, "base64").toString("utf8")
        : decode(text.replace(/_/g, " "), "quoted-printable"),
    );
}

export function parseMail(message: { to: string[]; raw: string }): Mail {
  return {
    to: message.to,
    subject: subject(message.raw),
    text: part(message.raw, "text/plain"),
    html: part(message.raw, "text/html"),
    raw: message.raw,
  };
}

/** The messages delivered to `to` (case-insensitive) whose subject matches, oldest first. */
export function mailsTo(smtp: SmtpServer, to: string, subjectLike: RegExp): Mail[] {
  return smtp.received
    .filter((m) => m.to.includes(to.toLowerCase()))
    .map(parseMail)
    .filter((m) => subjectLike.test(m.subject));
}

/** Waits for the `n`th (1-based) delivered message to `to` whose subject matches. */
export async function nthMail(
  smtp: SmtpServer,
  to: string,
  subjectLike: RegExp,
  n = 1,
): Promise<Mail> {
  return waitFor(() => mailsTo(smtp, to, subjectLike)[n - 1], {
    what: `email #${n} to ${to} matching ${subjectLike}`,
  });
}

/** The token of the web-app link `path` in the text part, checked against the HTML part's. */
export function linkToken(mail: Mail, path: "/verify-email" | "/reset-password"): string {
  const pattern = new RegExp(`https://app\\.example\\.test${path}\\?token=([A-Za-z0-9_-]+)`);
  const text = pattern.exec(mail.text)?.[1];
  const html = pattern.exec(mail.html)?.[1];
  if (!text) throw new Error(`no ${path} link in:\n${mail.text}`);
  if (text !== html) throw new Error(`the HTML part links another token: ${html}`);
  return text;
}
