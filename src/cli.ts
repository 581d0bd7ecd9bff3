import { parseArgs } from "node:util";
import { withDefaultActor } from "./audit/index.ts";
import { features } from "./features.ts";
import { pgliteDataDir } from "./platform/db/client.ts";
import { migrateAndClose } from "./platform/db/migrate.ts";
import { UsageError } from "./platform/errors.ts";
import type { Command, CommandContext } from "./platform/feature.ts";
import { createLogger } from "./platform/logging.ts";
import { loadConfigOrExit } from "./platform/process.ts";
import { openServices } from "./services.ts";

/**
 * Operator commands: `npm run cli -- <command> [options]`. Each feature contributes its commands
 * (src/features.ts); `help` lists them.
 */
export const commands: Record<string, Command> = Object.assign(
  {
    "db:migrate": {
      summary: "Apply pending database migrations and exit",
      async run({ config, out }) {
        const driver = await migrateAndClose({
          ...(config.DATABASE_URL ? { url: config.DATABASE_URL } : {}),
          pgliteDir: pgliteDataDir(config.dataDir),
          poolMax: 2,
        });
        out(`migrations applied (${driver})`);
        return 0;
      },
    } satisfies Command,
  },
  ...features.map((feature) => feature.commands ?? {}),
);

function help(out: (line: string) => void): void {
  out("Usage: npm run cli -- <command> [options]\n");
  out("Commands:");
  const width = Math.max(...Object.keys(commands).map((n) => n.length), 4) + 2;
  out(`  ${"help".padEnd(width)}Show this list`);
  for (const [name, command] of Object.entries(commands).sort(([a], [b]) => a.localeCompare(b))) {
    out(`  ${name.padEnd(width)}${command.summary}`);
    if (command.usage) out(`  ${"".padEnd(width)}  ${command.usage}`);
  }
}

export async function runCli(
  argv: string[],
  out = (line: string) => console.log(line),
  stdin: CommandContext["stdin"] = process.stdin,
) {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    help(out);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    out(`Unknown command "${name}".\n`);
    help(out);
    return 2;
  }
  const config = loadConfigOrExit();
  const logger = createLogger({
    LOG_LEVEL: config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL,
    NODE_ENV: config.NODE_ENV,
  });
  let services: CommandContext["services"];
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: command.options ?? {},
      allowPositionals: true,
      strict: true,
    });
    if (command.services) services = await openServices(config, logger, { worksJobs: false });
    const context = { config, logger, values, positionals, services, out, stdin };
    // What a command changes is recorded in the audit trail as its doing.
    const actor = { actor: { kind: "system" as const, job: `cli:${name}` } };
    return (await withDefaultActor(actor, () => command.run(context))) ?? 0;
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
      out(`Error: ${err.message}`);
      if (command.usage) out(`Usage: ${command.usage}`);
      return 2;
    }
    throw err;
  } finally {
    await services?.close();
  }
}

if (import.meta.main) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
