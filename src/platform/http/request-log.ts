import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import type { Logger } from "../logging.ts";

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
