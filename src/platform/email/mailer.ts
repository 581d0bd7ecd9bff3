import type { Transporter } from "nodemailer";
import type { Config } from "../../config.ts";
import type { Logger } from "../logging.ts";

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** "smtp" or "console". */
  readonly kind: string;
  /** Delivers one message; resolves with the Message-ID the transport accepted. */
  send(message: OutgoingEmail): Promise<{ messageId: string }>;
  close(): void;
}

export type MailerConfig = Pick<
  Config,
  | "EMAIL_HOST"
  | "EMAIL_PORT"
  | "EMAIL_HOST_USER"
  | "EMAIL_HOST_PASSWORD"
  | "EMAIL_USE_TLS"
  | "DEFAULT_FROM_EMAIL"
  | "NODE_ENV"
>;

type TransportOptions = Parameters<typeof import("nodemailer").createTransport>[0];

/**
 * A nodemailer transport made on first use: nodemailer, and its heap, load only in a
 * process that sends email, not in API processes that leave jobs to the workers.
 */
function lazyTransport(options: TransportOptions) {
  let transport: Promise<Transporter> | undefined;
  return {
    get: () => {
      transport ??= import("nodemailer").then((m) => m.default.createTransport(options));
      return transport;
    },
    close: () => {
      transport?.then((t) => t.close()).catch(() => {});
    },
  };
}

/**
 * SMTP when EMAIL_HOST is set (the original's settings), otherwise the console transport: the
 * message is built exactly as for SMTP and printed, so development needs no mail server.
 */
export function createMailer(
  config: MailerConfig,
  logger: Logger,
  print: (text: string) => void = (text) => process.stdout.write(text),
): Mailer {
  if (config.EMAIL_HOST) return smtpMailer(config, config.EMAIL_HOST);
  const transport = lazyTransport({ streamTransport: true, buffer: true });
  return {
    kind: "console",
    async send(message) {
      const info = await (await transport.get()).sendMail({
        from: config.DEFAULT_FROM_EMAIL,
        ...message,
      });
      // Tests keep their output clean; everywhere else the developer sees the email.
      if (config.NODE_ENV === "test") logger.debug({ to: message.to }, "email (console)");
      else {
        print(
          `\n---------- email ----------\nFrom: ${config.DEFAULT_FROM_EMAIL}\nTo: ${message.to}\n` +
            `Subject: ${message.subject}\nMessage-ID: ${info.messageId}\n\n${message.text}\n` +
            "---------------------------\n",
        );
      }
      return { messageId: info.messageId };
    },
    close: () => transport.close(),
  };
}

function smtpMailer(config: MailerConfig, host: string): Mailer {
  // Port 465 speaks TLS from the first byte; other ports upgrade with STARTTLS, which
  // EMAIL_USE_TLS makes mandatory (and its absence forbids, for local test servers).
  const implicitTls = config.EMAIL_USE_TLS && config.EMAIL_PORT === 465;
  const transport = lazyTransport({
    host,
    port: config.EMAIL_PORT,
    secure: implicitTls,
    requireTLS: config.EMAIL_USE_TLS && !implicitTls,
    ignoreTLS: !config.EMAIL_USE_TLS,
    ...(config.EMAIL_HOST_USER
      ? { auth: { user: config.EMAIL_HOST_USER, pass: config.EMAIL_HOST_PASSWORD ?? "" } }
      : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    kind: "smtp",
    async send(message) {
      const info = await (await transport.get()).sendMail({
        from: config.DEFAULT_FROM_EMAIL,
        ...message,
      });
      return { messageId: String(info.messageId) };
    },
    close: () => transport.close(),
  };
}
