import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { waitFor } from "./wait.ts";

export interface Received {
  to: string[];
  raw: string;
}

export type SmtpServer = Awaited<ReturnType<typeof startSmtp>>;

/** A real SMTP server on an ephemeral port; refuses the first `refusals(rcpt)` attempts per recipient. */
export async function startSmtp(refusals: (rcpt: string) => number) {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  // Sessions whose recipient was accepted and whose message is not recorded yet; closed sessions
  // (a held recipient's client may die before it is answered).
  const inFlight = new Set<string>();
  const closed = new Set<string>();
  let paused: Promise<void> | undefined;
  let release = () => {};
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address, session, callback) {
      const answer = () => {
        if (closed.has(session.id)) return callback();
        const rcpt = address.address.toLowerCase();
        const n = (attempts.get(rcpt) ?? 0) + 1;
        attempts.set(rcpt, n);
        if (n <= refusals(rcpt)) {
          const err = Object.assign(new Error("Mailbox busy, try later"), { responseCode: 451 });
          return callback(err);
        }
        inFlight.add(session.id);
        callback();
      };
      if (paused) paused.then(answer);
      else answer();
    },
    onClose(session) {
      closed.add(session.id);
      inFlight.delete(session.id);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        inFlight.delete(session.id);
        callback();
      });
    },
  });
  // A client that dies mid-message resets its connection; a real server notes it and carries on.
  const errors: Error[] = [];
  server.on("error", (err) => errors.push(err));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    attempts,
    errors,
    /**
     * Holds every new message before its recipient is answered; resolves once no message is
     * between an accepted recipient and the end of its data (each is received or abandoned).
     */
    async pause(): Promise<void> {
      paused ??= new Promise<void>((resolve) => {
        release = resolve;
      });
      await waitFor(() => inFlight.size === 0, { what: "SMTP messages in flight to end" });
    },
    /** Answers the held recipients and accepts messages again. */
    resume(): void {
      paused = undefined;
      release();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
