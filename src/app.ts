import { randomUUID } from "node:crypto";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger } from "fastify";
import pkg from "../package.json" with { type: "json" };
import type { Config } from "./config.ts";
import { features } from "./features.ts";
import type { AppDeps, AppModule } from "./platform/feature.ts";
import { registerClientFiles } from "./platform/http/client-files.ts";
import { registerDocs } from "./platform/http/docs.ts";
import {
  frameworkErrors,
  installErrorHandling,
  methodNotAllowed,
} from "./platform/http/error-handler.ts";
import { PROBES, registerHealth } from "./platform/http/health.ts";
import { waitForHandlersOnClose } from "./platform/http/in-flight.ts";
import { acceptOptionalBodies } from "./platform/http/openapi.ts";
import { LazyRequestLogger, RequestLog } from "./platform/http/request-log.ts";
import { originForm } from "./platform/http/request-target.ts";
import { registerSecurity } from "./platform/http/security.ts";
import type { App } from "./platform/http/types.ts";
import { validatorCompiler } from "./platform/http/validation.ts";
import { registerMetrics } from "./platform/metrics.ts";

export type { App };

/** Every feature's routes, in registration order (src/features.ts). */
export const modules: AppModule[] = features.flatMap((feature) =>
  feature.routes ? [feature.routes] : [],
);

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A hop count means "trust that many proxies in front of us". */
function trustProxy(setting: Config["TRUST_PROXY"]) {
  if (typeof setting !== "number") return setting;
  return (_address: string, hop: number) => hop < setting;
}

/** The HTTP API: platform plugins, then each feature's routes. No listening, no workers. */
export async function buildApp(deps: AppDeps, routes: AppModule[] = modules): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.BODY_LIMIT,
    trustProxy: trustProxy(deps.config.TRUST_PROXY),
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    // Every route, hook and log line sees "/api/…", never "http://evil.com/api/…" or "//api/…".
    rewriteUrl: (req) => originForm(req.url ?? "/"),
    frameworkErrors,
    // Keep a caller's X-Request-Id when it is sane, so logs line up across services.
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    childLoggerFactory: (logger, bindings, options) =>
      new LazyRequestLogger(logger, bindings, options),
    logController: new RequestLog(deps.logger, {
      requestIdLogLabel: "request_id",
      // Probes hit these every few seconds; logging each would drown the useful lines.
      disableRequestLogging: (request) => PROBES.has(request.url) || request.url === "/metrics",
    }),
  }).withTypeProvider<TypeBoxTypeProvider>() satisfies App;

  // First, so that every request is counted before any other hook can answer it.
  waitForHandlersOnClose(app, deps.config.SHUTDOWN_TIMEOUT * 1000);
  app.setValidatorCompiler(validatorCompiler);
  acceptOptionalBodies(app);
  installErrorHandling(app);
  const finishRoutes = methodNotAllowed(app);
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });

  await registerSecurity(app, deps.config);
  registerMetrics(app, deps.metrics, deps.config);
  await registerDocs(app, {
    title: "SaaS Subscription Billing API",
    version: pkg.version,
    description:
      "JWT accounts, Stripe subscriptions and webhooks, payment history. " +
      "Authenticate with `Authorization: Bearer <access token>`.",
    tags: [
      { name: "auth", description: "Accounts and JWT tokens" },
      { name: "subscriptions", description: "Plans, subscriptions and payments" },
      { name: "webhooks", description: "Stripe event intake" },
      { name: "internal", description: "For the app's other services (SERVICE_TOKENS)" },
      { name: "operations", description: "Health and readiness" },
      {
        name: "admin",
        description:
          "Staff only (is_staff or is_superuser): support tasks on users, subscriptions, payments, " +
          "webhooks and plans. Throttled per staff user (THROTTLE_ADMIN), audited as the staff " +
          "user, and writes are safe to retry with an `Idempotency-Key` header.",
      },
    ],
  });
  registerHealth(app, deps.database);
  await registerClientFiles(app);
  for (const register of routes) await register(app, deps);

  finishRoutes();
  return app;
}
