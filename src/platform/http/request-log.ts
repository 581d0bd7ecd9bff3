import {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import pino, { type Bindings, type ChildLoggerOptions, type LogFn } from "pino";
import type { Logger } from "../logging.ts";

/**
 * One access-log line per request, written when it completes (Fastify writes two, "incoming
 * request" and "request completed"; the first doubles the logging cost of every request and adds
 * nothing the second lacks but the start of a request that never ends).
 *
 * A completed request's line is built here from fields that hold no secret (the fields of
 * Fastify's request and reply serializers) and written as pino writes a line (level, time, the
 * process's bindings, then the fields) straight to the logger's destination, one JSON.stringify of
 * a small object: through pino, the wildcard redaction paths (`*.password`, …) made it walk every
 * line, and even unredacted its field-by-field serialization was 2-3 % of a status request's CPU.
 * Lines with an error keep going through the request's own, redacting, logger.
 */
export class RequestLog extends LogController {
  readonly #logger: Logger;
  readonly #info: number;

  constructor(logger: Logger, options: ConstructorParameters<typeof LogController>[0]) {
    super(options);
    this.#logger = logger;
    this.#info = logger.levels.values.info ?? 30;
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
    const logger = this.#logger;
    // pino's own level check; its destination and bindings (`,"pid":1,"hostname":"h"`) by its
    // exported symbols.
    if (logger.levelVal > this.#info) return;
    const fields = JSON.stringify({
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
      msg: "request completed",
    });
    const internals = logger as unknown as Record<symbol, unknown>;
    const destination = internals[pino.symbols.streamSym] as { write(line: string): void };
    const bindings = internals[pino.symbols.chindingsSym] as string;
    destination.write(
      `{"level":${this.#info},"time":${Date.now()}${bindings},${fields.slice(1)}\n`,
    );
  }
}

/**
 * `request.log`: the request's child logger (its lines carry `request_id`), made when something
 * first logs through it. Most requests log nothing but the access line, which `RequestLog` writes
 * through its own logger, and making a pino child runs every binding through the wildcard
 * redaction (`*.password`, …): about 2 µs and 1.5 KB per request for a logger never used.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get #log(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#log.level = level;
  }

  fatal(...args: Parameters<LogFn>): void {
    this.#log.fatal(...args);
  }
  error(...args: Parameters<LogFn>): void {
    this.#log.error(...args);
  }
  warn(...args: Parameters<LogFn>): void {
    this.#log.warn(...args);
  }
  info(...args: Parameters<LogFn>): void {
    this.#log.info(...args);
  }
  debug(...args: Parameters<LogFn>): void {
    this.#log.debug(...args);
  }
  trace(...args: Parameters<LogFn>): void {
    this.#log.trace(...args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#log.child(bindings, options);
  }
}
