import {
  authenticate,
  requireUser,
  requireVerifiedEmail,
  unverifiedEmailFailure,
} from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, errorResponses, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import type { BillingDeps } from "./billing-deps.ts";
import {
  CancelBody,
  CreateBody,
  Created,
  IgnoredBody,
  PaymentPage,
  PlanPage,
  SubscriptionResult,
  SubscriptionStatus,
  writeInProgressFailure,
} from "./billing-schemas.ts";
import { listPayments, paymentBody } from "./payments-service.ts";
import { listActivePlans, planBody } from "./plans-service.ts";
import { actAsCaller } from "./route-actor.ts";
import {
  cancelSubscription,
  createSubscription,
  reactivateSubscription,
  subscriptionStatus,
} from "./subscriptions-service.ts";

/**
 * `/api/subscriptions/…` (docs/architecture.md, 'The HTTP contract'): every route needs a
 * signed-in user.
 */
export function registerBillingRoutes(app: App, appDeps: AppDeps, deps: BillingDeps): void {
  const service = { ...deps, logger: appDeps.logger };
  const auth = authenticate(appDeps);
  const base = { tags: ["subscriptions"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/subscriptions/plans/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_plans_list",
        summary: "Active plans, cheapest first, 20 a page.",
        description:
          "DRF's page-number pagination: `next` and `previous` are absolute links, null at the ends.",
        querystring: PageQuery,
        response: {
          200: described("A page of active plans.", PlanPage),
          ...errorResponses(
            failures.any,
            failures.fields,
            failures.page,
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { count, plans } = await listActivePlans(deps.db, at);
      return paginated(request, at, count, plans.map(planBody));
    },
  );

  app.post(
    "/api/subscriptions/create/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_create",
        summary:
          "Subscribe to a plan with a payment method. `client_secret` comes back when the first payment needs 3-D Secure.",
        description:
          "Creates the Stripe customer (once per user) and subscription, charging the first " +
          "period. A user has at most one live subscription: a second one is refused.",
        body: CreateBody,
        response: {
          201: described(
            'Subscribed: `status` is "active", or "incomplete" with a `client_secret` for 3-D Secure.',
            Created,
          ),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              businessFailure(400, "Already subscribed, or Stripe refused the request."),
              businessFailure(402, "The card was declined."),
              businessFailure(404, "No active plan with this id."),
              unverifiedEmailFailure,
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      // Checkout and plan-change routes, when added, take the same guard.
      preValidation: [auth, requireVerifiedEmail(appDeps.config)],
      preHandler: actAsCaller,
    },
    async (request, reply) => {
      const user = requireUser(request);
      const { subscription, clientSecret } = await createSubscription(
        service,
        user.id,
        request.body,
      );
      return reply.code(201).send({
        message: "Subscription created.",
        subscription,
        ...(clientSecret ? { client_secret: clientSecret } : {}),
      });
    },
  );

  app.get(
    "/api/subscriptions/status/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_status",
        summary: 'The current subscription; `status: "inactive"` when there is none.',
        description:
          "The user's current subscription as last synced from Stripe's webhooks and our own calls.",
        response: {
          200: described("The current subscription, or only its status.", SubscriptionStatus),
          ...errorResponses(failures.any, failures.auth, failures.database),
        },
      },
      preValidation: auth,
    },
    async (request) => subscriptionStatus(deps.db, requireUser(request).id),
  );

  app.post(
    "/api/subscriptions/cancel/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_cancel",
        summary: "Cancel at period end (default) or immediately. A cancellation email is queued.",
        description: "The body may be left out: a bare POST cancels at the end of the paid period.",
        body: CancelBody,
        response: {
          200: described(
            "Canceled, or set to cancel at the end of the period.",
            SubscriptionResult,
          ),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              businessFailure(400, "Stripe refused the cancellation."),
              businessFailure(404, "No active subscription."),
              writeInProgressFailure,
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      // The original accepted a bare POST: no body means the defaults.
      config: { optionalBody: true },
      preValidation: auth,
      preHandler: actAsCaller,
    },
    async (request) => {
      const immediately = request.body?.cancel_immediately ?? false;
      const subscription = await cancelSubscription(service, requireUser(request).id, immediately);
      return { message: "Subscription canceled.", subscription };
    },
  );

  app.post(
    "/api/subscriptions/reactivate/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_reactivate",
        summary: "Undo a cancellation scheduled for the end of the period.",
        description: "Takes no parameters: a body, if any, is ignored (it must still be JSON).",
        response: {
          200: described("Renewing again at the end of the period.", SubscriptionResult),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            [
              businessFailure(400, "Stripe refused the change."),
              businessFailure(404, "No subscription scheduled for cancellation."),
              writeInProgressFailure,
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      config: { optionalBody: true, documentedBody: IgnoredBody },
      preValidation: auth,
      preHandler: actAsCaller,
    },
    async (request) => {
      const subscription = await reactivateSubscription(service, requireUser(request).id);
      return { message: "Subscription reactivated.", subscription };
    },
  );

  app.get(
    "/api/subscriptions/payments/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_payments_list",
        summary: "The signed-in user's payments, newest first, 20 a page.",
        description:
          "Payments are recorded from Stripe's invoice and payment events. DRF's page-number " +
          "pagination, as for plans.",
        querystring: PageQuery,
        response: {
          200: described("A page of the user's payments.", PaymentPage),
          ...errorResponses(
            failures.any,
            failures.fields,
            failures.page,
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { count, payments } = await listPayments(deps.db, requireUser(request).id, at);
      return paginated(request, at, count, payments.map(paymentBody));
    },
  );
}
