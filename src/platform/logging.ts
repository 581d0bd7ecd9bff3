import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
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

/**
 * One access-log line per request, written when it completes (Fastify writes two, "incoming
 * request" and "request completed"; the first doubles the logging cost of every request and adds
 * nothing the second lacks but the start of a request that never ends).
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, "request errored");
    else reply.log.info(line, "request completed");
  }
}
