import { createInterface } from "node:readline";
import { type Command, UsageError } from "../cli.ts";
import { AppError } from "../platform/http/errors.ts";
import { createSuperuser } from "./accounts-service.ts";

/** Asks on the terminal without echoing what is typed. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const write = process.stdout.write.bind(process.stdout);
    let muted = false;
    // readline echoes through output; swallow the echo of the answer, keep the question.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s) => {
      if (!muted) write(s);
    };
    rl.question(question, (answer) => {
      rl.close();
      write("\n");
      resolve(answer);
    });
    muted = true;
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  // One password on one line: drop the line ending a pipe or heredoc adds.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readStdin();
  const password = await promptHidden("Password: ");
  const again = await promptHidden("Password (again): ");
  if (password !== again) throw new UsageError("Passwords do not match.");
  return password;
}

export const accountCommands: Record<string, Command> = {
  createsuperuser: {
    summary: "Create a staff superuser; the password is read from stdin (or prompted on a TTY)",
    usage: "createsuperuser --email E --username U  (echo 'pw' | npm run cli -- createsuperuser …)",
    options: { email: { type: "string" }, username: { type: "string" } },
    services: true,
    async run({ values, services, out }) {
      if (!services) throw new Error("createsuperuser needs services");
      const { email, username } = values;
      if (typeof email !== "string" || typeof username !== "string") {
        throw new UsageError("--email and --username are required");
      }
      const password = await readPassword();
      try {
        const user = await createSuperuser(
          { db: services.database.db, config: services.config },
          { email, username, password },
        );
        out(`Superuser created: ${user.email} (${user.id})`);
        return 0;
      } catch (err) {
        if (!(err instanceof AppError) || err.body.kind !== "fields") throw err;
        for (const [field, messages] of Object.entries(err.body.fields)) {
          for (const message of messages) out(`Error: ${field}: ${message}`);
        }
        return 2;
      }
    },
  },
};
