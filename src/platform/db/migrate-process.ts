import { createLogger } from "../logging.ts";
import { exitOnStartupFailure, loadConfigOrExit, saveCompileCache } from "../process.ts";
import { migrateAndClose } from "./migrate.ts";

// The cluster primary's migrations (src/main.ts), run in a process of their own that exits when
// they are applied: the primary forks it and waits, so it never loads Drizzle, pg or pg-boss and
// stays a small supervisor for the life of the cluster (docs/performance.md, "The API tier's
// memory"). A failure is logged here, as the primary would have logged it, and exits 1.
const config = loadConfigOrExit();
const logger = createLogger(config);
if (!config.DATABASE_URL) throw new Error("the cluster's migrations need DATABASE_URL");
migrateAndClose({ url: config.DATABASE_URL, poolMax: 1 }).then(
  saveCompileCache,
  exitOnStartupFailure(logger, "API cluster", config),
);
