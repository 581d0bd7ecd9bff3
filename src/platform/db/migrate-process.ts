import { createLogger } from "../logging.ts";
import { exitOnStartupFailure, loadConfigOrExit, saveCompileCache } from "../process.ts";
import { migrateAndClose } from "./migrate.ts";

// The migrations of WEB_CONCURRENCY's API threads (src/main.ts), run in a process of their own that
// exits when they are applied: the supervising main thread forks it and waits, so it never loads
// Drizzle, pg or pg-boss and stays small for the life of the process (docs/performance.md, "The API
// tier's memory"). A failure is logged here, as the supervisor would have logged it, and exits 1.
const config = loadConfigOrExit();
const logger = createLogger(config);
if (!config.DATABASE_URL) throw new Error("API threads' migrations need DATABASE_URL");
migrateAndClose({ url: config.DATABASE_URL, poolMax: 1 }).then(
  saveCompileCache,
  exitOnStartupFailure(logger, "API cluster", config),
);
