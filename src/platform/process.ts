import { type Config, ConfigError, loadConfig } from "../config.ts";
import type { Logger } from "./logging.ts";

/** Loads the configuration or prints every problem (no stack trace) and exits 1. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Reports a fatal start-up failure in one log line and exits 1. */
export function exitOnStartupFailure(logger: Logger, what: string) {
  return (err: unknown): never => {
    logger.fatal({ err }, `${what} failed to start`);
    process.exit(1);
  };
}

/**
 * On SIGINT/SIGTERM runs `stop` once, bounded by `timeoutSeconds`, and exits 0 (1 if stopping
 * failed or took too long). A second signal exits at once.
 */
export function stopOnSignals(
  logger: Logger,
  timeoutSeconds: number,
  stop: () => Promise<void>,
  signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"],
) {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(
      () => {
        logger.error("shutdown timed out");
        process.exit(1);
      },
      timeoutSeconds * 1000 + 2000,
    );
    timer.unref();
    stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
