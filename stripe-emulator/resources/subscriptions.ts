import type Stripe from "stripe";
import { createSubscription } from "../billing/create-subscription.ts";
import { cancelSubscriptionNow, isEnded } from "../billing/lifecycle.ts";
import { resumeSubscription } from "../billing/trial-end.ts";
import { updateSubscription } from "../billing/update-subscription.ts";
import { type Ctx, testClockOf } from "../context.ts";
import { invalidRequest, noSuchObject } from "../errors.ts";
import { paginate } from "../lists.ts";
import { expandList, optObj, optStr, type Params } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";

export function getSubscription(ctx: Ctx, id: string): Stripe.Subscription {
  const sub = ctx.state.subscriptions[id];
  if (!sub) throw noSuchObject(id);
  return sub;
}

function cancel(ctx: Ctx, id: string, p: Params): Stripe.Subscription {
  const sub = getSubscription(ctx, id);
  if (isEnded(sub)) {
    throw invalidRequest(
      `A canceled subscription can't be canceled again: ${id}`,
      undefined,
      "resource_missing",
    );
  }
  const details = optObj(p, "cancellation_details") ?? {};
  const feedback = optStr(details, "feedback");
  cancelSubscriptionNow(ctx, sub, "cancellation_requested", {
    comment: optStr(details, "comment"),
    feedback: feedback as Stripe.Subscription.CancellationDetails.Feedback | undefined,
  });
  return sub;
}

/**
 * No `status` means every status but canceled; subscriptions on test clocks are listed only
 * when `customer` or `test_clock` is given (SubscriptionListParams docs).
 */
function list(ctx: Ctx, p: Params): Stripe.Subscription[] {
  const customer = optStr(p, "customer");
  const clock = optStr(p, "test_clock");
  const status = optStr(p, "status");
  const price = optStr(p, "price");
  return Object.values(ctx.state.subscriptions).filter((s) => {
    if (customer !== undefined && s.customer !== customer) return false;
    const subClock = testClockOf(ctx.state, typeof s.customer === "string" ? s.customer : null);
    if (clock !== undefined && subClock !== clock) return false;
    if (customer === undefined && clock === undefined && subClock !== null) return false;
    if (price !== undefined && !s.items.data.some((i) => i.price.id === price)) return false;
    if (status === undefined) return s.status !== "canceled" && s.status !== "incomplete_expired";
    if (status === "all") return true;
    if (status === "ended") return s.status === "canceled" || s.status === "incomplete_expired";
    return s.status === status;
  });
}

export const subscriptionRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/subscriptions",
    handler: ({ ctx, params }) =>
      render(ctx.state, createSubscription(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/subscriptions/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getSubscription(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/subscriptions/:id",
    handler: ({ ctx, params, args }) => {
      const sub = getSubscription(ctx, args.id ?? "");
      updateSubscription(ctx, sub, params);
      return render(ctx.state, sub, expandList(params));
    },
  },
  {
    method: "DELETE",
    path: "/v1/subscriptions/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, cancel(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/subscriptions",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(list(ctx, params), params, "/v1/subscriptions"),
        expandList(params),
      ),
  },
  {
    method: "POST",
    path: "/v1/subscriptions/:id/resume",
    handler: ({ ctx, params, args }) => {
      const sub = getSubscription(ctx, args.id ?? "");
      resumeSubscription(ctx, sub);
      return render(ctx.state, sub, expandList(params));
    },
  },
];
