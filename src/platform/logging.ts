import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import { type DestinationStream, type Logger, pino } from "pino";
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

/**
 * The process's logger: JSON lines on stdout, buffered (or `destination`: tests), secrets
 * redacted.
 */
export function createLogger(
  config: Pick<Config, "LOG_LEVEL">,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  if (destination) return pino(options, destination);
  // Lines are gathered and written 4 KiB at a time, off the event loop, and at least every
  // LOG_FLUSH_MS: one synchronous write per line was a system call in every request (about a
  // tenth of a status request's CPU at 1,000 req/s). pino writes what is left when the process
  // exits, even on a fatal error; only a SIGKILL loses the last LOG_FLUSH_MS. A stalled reader
  // of stdout makes lines past LOG_BUFFER_MAX be dropped instead of blocking the API or growing
  // without bound.
  const stdout = pino.destination({
    dest: 1,
    sync: false,
    minLength: 4096,
    maxLength: LOG_BUFFER_MAX,
  });
  setInterval(() => stdout.flush(), LOG_FLUSH_MS).unref();
  return pino(options, stdout);
}

const LOG_FLUSH_MS = 250;
const LOG_BUFFER_MAX = 16 * 1024 * 1024;

/**
 * One access-log line per request, written when it completes (Fastify writes two, "incoming
 * request" and "request completed"; the first doubles the logging cost of every request and adds
 * nothing the second lacks but the start of a request that never ends).
 *
 * A completed request's line is built here from fields that hold no secret (the fields of
 * Fastify's request and reply serializers) and written without redaction: the wildcard paths
 * (`*.password`, …) made pino walk every line, the largest allocation of a status request and
 * four times the cost of the line itself. Lines with an error keep going through the request's
 * own, redacting, logger.
 */
export class RequestLog extends LogController {
  readonly #access: Logger;

  constructor(logger: Logger, options: ConstructorParameters<typeof LogController>[0]) {
    super(options);
    this.#access = logger.child({}, { redact: [] });
  }

  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    if (error) {
      const line = { req: request, res: reply, responseTime: reply.elapsedTime, err: error };
      reply.log.error(line, "request errored");
      return;
    }
    this.#access.info(
      {
        [this.requestIdLogLabel]: request.id,
        req: {
          method: request.method,
          url: request.url,
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        },
        res: { statusCode: reply.statusCode },
        responseTime: reply.elapsedTime,
      },
      "request completed",
    );
  }
}
