import type { FastifyError, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import { databaseUnavailable } from "../db/client.ts";
import { AppError, detailError, unavailableError, validationError } from "./errors.ts";
import type { App } from "./types.ts";
import { fieldErrorsFrom } from "./validation.ts";

/** Fastify's own client errors, mapped to DRF's wording. */
function frameworkError(error: FastifyError): AppError | null {
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return detailError("invalid", `JSON parse error - ${error.message}`);
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return detailError("payload_too_large", "Request body is too large.");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return detailError("unsupported_media_type", "Unsupported media type in request.");
    default:
      break;
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return detailError("invalid", `JSON parse error - ${error.message}`);
  }
  if (error.statusCode === 413)
    return detailError("payload_too_large", "Request body is too large.");
  if (error.statusCode === 415) {
    return detailError("unsupported_media_type", "Unsupported media type in request.");
  }
  return null;
}

function send(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header("retry-after", String(error.retryAfter));
  return reply.code(error.status).send(error.toJSON());
}

/**
 * One place that turns every failure into the public error shapes (docs/architecture.md,
 * 'The error model').
 */
export function installErrorHandling(app: App): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) return send(reply, error);
    if (error.validation) {
      const data = error.validationContext === "body" ? request.body : undefined;
      return send(reply, validationError(fieldErrorsFrom(error.validation, data)));
    }
    const client = frameworkError(error);
    if (client) return send(reply, client);
    // A database outage is not a bug: one line without a stack per refused request, and a 503 the
    // client (or Stripe, for a webhook) retries.
    const outage = databaseUnavailable(error);
    if (outage) {
      request.log.warn({ database: outage }, "database unavailable");
      return send(reply, unavailableError());
    }
    return internalError(error, request, reply);
  });

  app.setNotFoundHandler((_request, reply) => send(reply, detailError("not_found", "Not found.")));
}

/**
 * Fastify's `frameworkErrors`: a path the router cannot decode ("%zz", a cut "%E0%A4%A") or a
 * parameter over its length limit matches no route, so it is the JSON 404 of any unknown path
 * (Fastify would send its own shape, bypassing the error handler). Probes and scanners send
 * these by the thousand: a debug line, not an error.
 */
export function frameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error.code === "FST_ERR_BAD_URL" || error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    request.log.debug({ code: error.code }, "request path matches no route");
    return send(reply, detailError("not_found", "Not found."));
  }
  return internalError(error, request, reply);
}

/** A bug: logged with its stack, answered without internals. */
function internalError(error: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  request.log.error({ err: error }, "unhandled error");
  return reply.code(500).send({ detail: "Internal server error.", request_id: String(request.id) });
}

const METHODS: HTTPMethods[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/**
 * Fastify answers a known path with the wrong method as 404; DRF answers 405. Record every route,
 * then — once all modules are registered — add a 405 route for each path's missing methods.
 * Call the returned function after registering the last module.
 */
export function methodNotAllowed(app: App): () => void {
  const routes = new Map<string, Set<string>>();
  app.addHook("onRoute", (route) => {
    if (route.config && "methodNotAllowed" in route.config) return;
    // Wildcards (CORS's catch-all OPTIONS route, static assets) would turn every unknown path
    // into a 405; only concrete paths get the DRF treatment.
    if (route.url.includes("*")) return;
    const methods = routes.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    routes.set(route.url, methods);
  });
  return () => {
    app.register(async (scope) => {
      for (const [url, methods] of routes) {
        const missing = METHODS.filter((m) => !methods.has(m));
        if (missing.length === 0) continue;
        scope.route({
          method: missing,
          url,
          schema: { hide: true },
          config: { methodNotAllowed: true },
          handler: async (request) => {
            throw detailError("method_not_allowed", `Method "${request.method}" not allowed.`);
          },
        });
      }
    });
  };
}
