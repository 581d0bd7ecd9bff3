import {
  billingDepsOf,
  cancelForStaff,
  changePlanForStaff,
  extendTrial,
  grantFreePeriod,
  listSubscriptionsForStaff,
  subscriptionForStaff,
} from "../billing/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, type ErrorCase, failures } from "../platform/http/error-schemas.ts";
import { fieldError } from "../platform/http/errors.ts";
import { described } from "../platform/http/openapi.ts";
import { pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import { adminErrors, adminWriteErrors } from "./staff-guard.ts";
import {
  ChangeOutcome,
  ExtendTrialBody,
  FreePeriodBody,
  StaffCancelBody,
  StaffChangeBody,
  StaffSubscription,
  StaffSubscriptionPage,
  SubscriptionParams,
  SubscriptionQuery,
} from "./subscriptions-schemas.ts";

const base = { tags: ["admin"], security: [{ bearerAuth: [] }] };
const notFound = businessFailure(404, "No such subscription.");
const notCurrent = businessFailure(
  409,
  "The subscription is not its user's current one, or another change, cancellation or reactivation of that user's is in progress.",
);
const actionErrors = (...refusals: ErrorCase[]) =>
  adminWriteErrors(failures.jsonBody, [notFound, notCurrent, ...refusals]);

/** `/api/admin/subscriptions/…`: filter subscriptions and act on one at Stripe. */
export function subscriptionsRoutes(app: App, deps: AppDeps): void {
  const billing = { ...billingDepsOf(deps), logger: deps.logger };
  const db = deps.database.db;

  app.get(
    "/api/admin/subscriptions/",
    {
      schema: {
        ...base,
        operationId: "admin_subscriptions_list",
        summary: "Every user's subscriptions, newest first, by status, plan and creation time.",
        description:
          "Example: `?status=past_due&plan=\u2026&created_after=2026-01-01T00:00:00Z`. Pages of 20, `{count, next, previous, results}`.",
        querystring: SubscriptionQuery,
        response: {
          200: described("A page of subscriptions.", StaffSubscriptionPage),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const { status, plan, created_after, created_before } = request.query;
      const at = pageRequest(request.query);
      const result = await listSubscriptionsForStaff(
        db,
        {
          status,
          planId: plan,
          createdAfter: created_after ? new Date(created_after) : undefined,
          createdBefore: created_before ? new Date(created_before) : undefined,
        },
        at,
      );
      return paginated(request, at, result.count, result.subscriptions);
    },
  );

  app.get(
    "/api/admin/subscriptions/:id/",
    {
      schema: {
        ...base,
        operationId: "admin_subscriptions_read",
        summary: "One subscription, by our id or Stripe's.",
        description: "The subscription with its user, Stripe customer and trial.",
        params: SubscriptionParams,
        response: {
          200: described("The subscription.", StaffSubscription),
          ...adminErrors([notFound]),
        },
      },
    },
    async (request) => subscriptionForStaff(db, request.params.id),
  );

  app.post(
    "/api/admin/subscriptions/:id/cancel/",
    {
      schema: {
        ...base,
        operationId: "admin_subscriptions_cancel",
        summary: "Cancel at the period end (default) or now, as the user's own cancel does.",
        description:
          'Example: `{"at_period_end": false}`. The body may be left out (at the period end). Acts on the user\'s current subscription only (409 otherwise).',
        params: SubscriptionParams,
        body: StaffCancelBody,
        response: {
          200: described("The subscription after the cancellation.", StaffSubscription),
          ...actionErrors(businessFailure(400, "Stripe refused the cancellation.")),
        },
      },
      config: { optionalBody: true },
    },
    async (request) => cancelForStaff(billing, request.params.id, request.body.at_period_end),
  );

  app.post(
    "/api/admin/subscriptions/:id/extend-trial/",
    {
      schema: {
        ...base,
        operationId: "admin_subscriptions_extend_trial",
        summary:
          "Move a running trial's end later (Stripe's trial_end): by `days`, or to `trial_end`.",
        description:
          'Example: `{"days": 14}` or `{"trial_end": "2026-02-01T00:00:00Z"}`. No proration; the billing cycle is anchored on the new end, as at Stripe. Only a trialing subscription.',
        params: SubscriptionParams,
        body: ExtendTrialBody,
        response: {
          200: described("The subscription with its new trial end.", StaffSubscription),
          ...actionErrors(
            businessFailure(400, "Not in trial, the new end is not later, or Stripe refused."),
          ),
        },
      },
    },
    async (request) => {
      const { days, trial_end } = request.body;
      if (days !== undefined && trial_end === undefined) {
        return extendTrial(billing, request.params.id, { days });
      }
      if (trial_end !== undefined && days === undefined) {
        return extendTrial(billing, request.params.id, { trialEnd: new Date(trial_end) });
      }
      throw fieldError("non_field_errors", "Give exactly one of days and trial_end.");
    },
  );

  app.post(
    "/api/admin/subscriptions/:id/grant-free-period/",
    {
      schema: {
        ...base,
        operationId: "admin_subscriptions_grant_free_period",
        summary: "Give N free months: a 100 %-off coupon repeating N months on the subscription.",
        description:
          "The billing cycle, status and card stay; the invoices of those months are issued at " +
          "zero; discounts the subscription had are kept and apply again afterwards. Monthly plans only.",
        params: SubscriptionParams,
        body: FreePeriodBody,
        response: {
          200: described("The subscription with its discount.", StaffSubscription),
          ...actionErrors(businessFailure(400, "Not a monthly plan, ended, or Stripe refused.")),
        },
      },
    },
    async (request) => grantFreePeriod(billing, request.params.id, request.body.months),
  );

  app.post(
    "/api/admin/subscriptions/:id/change-plan/",
    {
      schema: {
        ...base,
        operationId: "admin_subscriptions_change_plan",
        summary: "Change the plan or seats for the user, by the user's own change rules.",
        description:
          'Example: `{"plan_id": "\u2026", "quantity": 3}`. The user\'s own change/ service: an upgrade now (charged at once), a downgrade at the period end unless `when` says otherwise.',
        params: SubscriptionParams,
        body: StaffChangeBody,
        response: {
          200: described("Changed, scheduled, or waiting for the customer.", ChangeOutcome),
          ...actionErrors(
            businessFailure(400, "The change is refused (same plan, seats out of range, …)."),
            businessFailure(402, "The proration charge was declined: nothing changed."),
          ),
        },
      },
    },
    async (request) => {
      const { outcome, subscription } = await changePlanForStaff(
        billing,
        request.params.id,
        request.body,
      );
      return { status: outcome, subscription };
    },
  );
}
