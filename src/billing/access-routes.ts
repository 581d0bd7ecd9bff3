import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { authenticate, getUserById, requireUser } from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import {
  ErrorDetail,
  errorResponses,
  failures,
  Unauthorized,
} from "../platform/http/error-schemas.ts";
import { detailError } from "../platform/http/errors.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import { AccessAnswer, AccessParams, AccessQuery } from "./access-schemas.ts";
import { accessOf, accessSettingsOf } from "./access-service.ts";
import type { BillingDeps } from "./billing-deps.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * The hook of the internal routes: `Authorization: Bearer <one of SERVICE_TOKENS>`. Digests are
 * compared, so every comparison is between equal lengths and takes the same time whatever the
 * token; every configured token is compared, so the time says nothing of which one (or none)
 * matched. The header is redacted from logs (src/platform/logging.ts).
 */
export function serviceTokenGuard(tokens: readonly string[]) {
  const expected = tokens.map(digest);
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (typeof header !== "string" || !header.startsWith("Bearer ")) {
      throw detailError("unauthenticated", "Authentication credentials were not provided.");
    }
    const given = digest(header.slice(7));
    let matched = false;
    for (const token of expected) matched = timingSafeEqual(given, token) || matched;
    if (!matched) throw detailError("token_not_valid", "Given token not valid for any token type");
  };
}

const answered = described(
  "The access answer: the policy over the user's current subscription (docs/access.md).",
  AccessAnswer,
);

/** `GET /api/subscriptions/access/` (the caller's) and `GET /api/internal/access/{user_id}/`. */
export function registerAccessRoutes(app: App, appDeps: AppDeps, deps: BillingDeps): void {
  const settings = accessSettingsOf(appDeps.config);

  app.get(
    "/api/subscriptions/access/",
    {
      schema: {
        tags: ["subscriptions"],
        security: [{ bearerAuth: [] }],
        operationId: "subscriptions_access",
        summary: "May the signed-in user use the product, or one feature, now?",
        description:
          "`allowed`, `reason` and `until` from the access policy (status × grace windows), the " +
          "plan and what it grants. With `?feature=`, that feature's `value`, and `allowed` only " +
          "when the plan grants it.",
        querystring: AccessQuery,
        response: {
          200: answered,
          ...errorResponses(failures.any, failures.fields, failures.auth, failures.database),
        },
      },
      preValidation: authenticate(appDeps),
    },
    async (request) =>
      accessOf(deps.db, settings, requireUser(request).id, new Date(), request.query.feature),
  );

  app.get(
    "/api/internal/access/:user_id/",
    {
      schema: {
        tags: ["internal"],
        security: [{ serviceToken: [] }],
        operationId: "internal_access",
        summary: "The access answer for any user, for the app's other services.",
        description:
          "The same answer as `subscriptions/access/`, authenticated with one of `SERVICE_TOKENS` " +
          "instead of the user's token, so a backend can ask without it.",
        params: AccessParams,
        querystring: AccessQuery,
        response: {
          200: answered,
          ...errorResponses(
            failures.any,
            failures.fields,
            [
              {
                status: 401,
                shape: Unauthorized,
                when: "No service token, or not one of SERVICE_TOKENS.",
              },
              { status: 404, shape: ErrorDetail, when: "No user with this id." },
            ],
            failures.database,
          ),
        },
      },
      preValidation: serviceTokenGuard(appDeps.config.SERVICE_TOKENS),
    },
    async (request) => {
      const userId = request.params.user_id;
      if (!(await getUserById(deps.db, userId))) throw detailError("not_found", "Not found.");
      return accessOf(deps.db, settings, userId, new Date(), request.query.feature);
    },
  );
}
