import { type Logger, pino } from "pino";
import type { Config } from "../config.ts";

export type { Logger };

/** Paths that may hold secrets; pino replaces their values before anything is written. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["stripe-signature"]',
  "*.password",
  "*.new_password",
  "*.old_password",
  "*.refresh",
  "*.access",
  "*.token",
];

export function createLogger(config: Pick<Config, "LOG_LEVEL">): Logger {
  return pino({
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  });
}
