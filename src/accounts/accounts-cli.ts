import { createInterface } from "node:readline";
import { AppError, UsageError } from "../platform/errors.ts";
import type { Command, CommandContext } from "../platform/feature.ts";
import { deletionState, runAccountDeletion, scheduleAccountDeletion } from "./account-deletion.ts";
import { createSuperuser, findUserByEmail, setUserActive } from "./accounts-service.ts";
import { setStaff } from "./staff-service.ts";

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

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk));
  // One password on one line: drop the line ending a pipe or heredoc adds.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function readPassword(input: CommandContext["stdin"]): Promise<string> {
  if (!input.isTTY) return readAll(input);
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
    async run({ values, services, out, stdin }) {
      if (!services) throw new Error("createsuperuser needs services");
      const { email, username } = values;
      if (typeof email !== "string" || typeof username !== "string") {
        throw new UsageError("--email and --username are required");
      }
      const password = await readPassword(stdin);
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
  "users:grant-staff": staffCommand(true),
  "users:revoke-staff": staffCommand(false),
  "users:deactivate": activeCommand(false),
  "users:activate": activeCommand(true),
  "users:delete": {
    summary:
      "Delete an account as DELETE /api/auth/profile/ does (subscriptions ended at Stripe, cards detached, goodbye email, row anonymized)",
    usage: "users:delete --email E",
    options: { email: { type: "string" } },
    services: true,
    async run({ values, services, out }) {
      if (!services) throw new Error("users:delete needs services");
      if (typeof values.email !== "string") throw new UsageError("--email is required");
      const { db } = services.database;
      const user = await findUserByEmail(db, values.email);
      if (!user) throw new UsageError(`No user with email ${values.email}.`);
      await scheduleAccountDeletion(
        { db, config: services.config, jobs: services.jobs },
        user.id,
        "operator",
      );
      // Run it here so the operator sees it done; the queued job then finds nothing left to do.
      await runAccountDeletion(
        {
          db,
          stripe: services.stripe.stripe,
          jobs: services.jobs,
          config: services.config,
          logger: services.logger,
        },
        user.id,
      );
      out(`User ${user.email} (${user.id}) deleted: account anonymized, goodbye email queued.`);
      return 0;
    },
  },
};

/** Deactivation locks the user out at once: tokens are checked against the account on every use. */
function activeCommand(active: boolean): Command {
  const verb = active ? "activate" : "deactivate";
  return {
    summary: active
      ? "Let a deactivated user sign in again"
      : "Lock a user out now: sign-in refused, every token stops working",
    usage: `users:${verb} --email E`,
    options: { email: { type: "string" } },
    services: true,
    async run({ values, services, out }) {
      if (!services) throw new Error(`users:${verb} needs services`);
      if (typeof values.email !== "string") throw new UsageError("--email is required");
      const user = await findUserByEmail(services.database.db, values.email);
      if (!user) throw new UsageError(`No user with email ${values.email}.`);
      // A deleted account (or one being deleted) stays locked: its deletion job anonymizes it.
      if (active && (await deletionState(services.database.db, user.id)) !== "none") {
        throw new UsageError(`User ${user.email} is deleted; it cannot be activated.`);
      }
      await setUserActive(services.database.db, user.id, active);
      out(`User ${user.email} ${verb}d.`);
      return 0;
    },
  };
}

/** The admin scope (/api/admin/) follows is_staff or is_superuser; revoking clears both. */
function staffCommand(staff: boolean): Command {
  const name = staff ? "users:grant-staff" : "users:revoke-staff";
  return {
    summary: staff
      ? "Make a user staff: the admin API (/api/admin/) and console accept them"
      : "Take the admin scope away (is_staff and is_superuser cleared)",
    usage: `${name} --email E`,
    options: { email: { type: "string" } },
    services: true,
    async run({ values, services, out }) {
      if (!services) throw new Error(`${name} needs services`);
      if (typeof values.email !== "string") throw new UsageError("--email is required");
      const user = await setStaff(services.database.db, values.email, staff);
      if (!user) throw new UsageError(`No user with email ${values.email}.`);
      out(`User ${user.email} ${staff ? "is now staff" : "is no longer staff"}.`);
      return 0;
    },
  };
}
