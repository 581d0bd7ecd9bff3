import {
  authenticate,
  requireUser,
  requireVerifiedEmail,
  unverifiedEmailFailure,
} from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, errorResponses, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { writeInProgressFailure } from "./billing-schemas.ts";
import {
  ChangeBody,
  ChangeCanceled,
  ChangeResult,
  Preview,
  PreviewQuery,
} from "./change-schemas.ts";
import { cancelScheduledChange, changeSubscription, previewChange } from "./change-service.ts";
import { actAsCaller } from "./route-actor.ts";

const refusals = [
  businessFailure(
    400,
    "The change cannot be made: the same plan and quantity; a first payment not complete (incomplete); a failed payment not settled (past_due, unpaid); a paused subscription; a cancellation scheduled (reactivate first).",
  ),
  businessFailure(404, "No active subscription, or no such plan."),
];

/**
 * `/api/subscriptions/change/…`: moving between plans and seat counts (docs/architecture.md,
 * 'Scheduled plan changes').
 */
export function registerChangeRoutes(app: App, appDeps: AppDeps, deps: BillingDeps): void {
  const service = { ...deps, logger: appDeps.logger };
  const auth = authenticate(appDeps);
  const base = { tags: ["subscriptions"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/subscriptions/change/preview/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_change_preview",
        summary: "What a change of plan or seats would cost, before making it.",
        description:
          "From Stripe's invoice preview: the amount due now with its proration lines, and the next invoice on the new plan. Nothing is changed or charged. Example: `?plan_id=…&quantity=5`.",
        querystring: PreviewQuery,
        response: {
          200: described("The change's cost and when it takes effect.", Preview),
          ...errorResponses(
            failures.any,
            failures.fields,
            refusals,
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) => previewChange(service, requireUser(request).id, request.query),
  );

  app.post(
    "/api/subscriptions/change/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_change",
        summary:
          "Change plan or seats: an upgrade now (charged at once), a downgrade at the period end (or now with a credit).",
        description:
          'Example: `{"plan_id": "…", "quantity": 5, "promotion_code": "LAUNCH20"}`. A scheduled change shows in status as `pending_change`; another change replaces it. An upgrade whose payment fails leaves the old plan (402); one that needs 3-D Secure answers `status: "requires_action"` with a `client_secret`.',
        body: ChangeBody,
        response: {
          200: described("Changed, scheduled, or waiting for 3-D Secure.", ChangeResult),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              ...refusals,
              businessFailure(402, "The proration charge was declined: nothing changed."),
              writeInProgressFailure,
              unverifiedEmailFailure,
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: [auth, requireVerifiedEmail(appDeps.config)],
      preHandler: actAsCaller,
    },
    async (request) => {
      const result = await changeSubscription(service, requireUser(request).id, request.body);
      const message = {
        changed: "Plan changed.",
        scheduled: "Plan change scheduled.",
        requires_action: "Confirm the payment to change the plan.",
      }[result.outcome];
      return {
        message,
        status: result.outcome,
        subscription: result.subscription,
        ...(result.clientSecret ? { client_secret: result.clientSecret } : {}),
      };
    },
  );

  app.delete(
    "/api/subscriptions/change/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_change_cancel",
        summary: "Cancel the change scheduled for the period end.",
        description: "The subscription renews on its current plan and seats.",
        response: {
          200: described("The scheduled change is dropped.", ChangeCanceled),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            [
              businessFailure(400, "The subscription cannot be changed (see POST change/)."),
              businessFailure(404, "No active subscription, or no change scheduled."),
              writeInProgressFailure,
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
      preHandler: actAsCaller,
    },
    async (request) => ({
      message: "Scheduled change canceled.",
      subscription: await cancelScheduledChange(service, requireUser(request).id),
    }),
  );
}
