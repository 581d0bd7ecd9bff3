import { authenticate, requireUser } from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import type { BillingDeps } from "./billing-deps.ts";
import {
  CancelBody,
  CreateBody,
  Created,
  ErrorMessage,
  FieldErrors,
  PaymentPage,
  PlanPage,
  SubscriptionResult,
  SubscriptionStatus,
  Unauthorized,
} from "./billing-schemas.ts";
import { listPayments, paymentBody } from "./payments-service.ts";
import { listActivePlans, planBody } from "./plans-service.ts";
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
        querystring: PageQuery,
        response: {
          200: described("A page of active plans.", PlanPage),
          400: FieldErrors,
          401: Unauthorized,
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
        body: CreateBody,
        response: {
          201: described(
            'Subscribed: `status` is "active", or "incomplete" with a `client_secret` for 3-D Secure.',
            Created,
          ),
          400: ErrorMessage,
          401: Unauthorized,
          402: ErrorMessage,
          404: ErrorMessage,
        },
      },
      preValidation: auth,
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
        response: {
          200: described("The current subscription, or only its status.", SubscriptionStatus),
          401: Unauthorized,
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
        body: CancelBody,
        response: {
          200: described(
            "Canceled, or set to cancel at the end of the period.",
            SubscriptionResult,
          ),
          400: ErrorMessage,
          401: Unauthorized,
          404: ErrorMessage,
        },
      },
      // The original accepted a bare POST: no body means the defaults.
      config: { optionalBody: true },
      preValidation: auth,
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
        response: {
          200: described("Renewing again at the end of the period.", SubscriptionResult),
          400: ErrorMessage,
          401: Unauthorized,
          404: ErrorMessage,
        },
      },
      preValidation: auth,
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
        querystring: PageQuery,
        response: {
          200: described("A page of the user's payments.", PaymentPage),
          400: FieldErrors,
          401: Unauthorized,
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
