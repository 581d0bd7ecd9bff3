import type Stripe from "stripe";
import { updateSubscription } from "../billing/update-subscription.ts";
import type { Ctx } from "../context.ts";
import { noSuchObject } from "../errors.ts";
import { paginate } from "../lists.ts";
import { expandList, type Params, reqStr } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { getSubscription } from "./subscriptions.ts";

function findItem(
  ctx: Ctx,
  id: string,
): { sub: Stripe.Subscription; item: Stripe.SubscriptionItem } {
  for (const sub of Object.values(ctx.state.subscriptions)) {
    const item = sub.items.data.find((i) => i.id === id);
    if (item) return { sub, item };
  }
  throw noSuchObject(id);
}

/**
 * `POST /v1/subscription_items/{id}`: the same change as `subscriptions.update` with
 * `items[0][id]`, so prorations, invoices and pending updates follow the same rules.
 */
function updateItem(ctx: Ctx, id: string, p: Params): Stripe.SubscriptionItem {
  const { sub } = findItem(ctx, id);
  const { price, quantity, ...rest } = p;
  const change: Record<string, unknown> = { id };
  if (price !== undefined) change.price = price;
  if (quantity !== undefined) change.quantity = quantity;
  updateSubscription(ctx, sub, { ...rest, items: [change] });
  // With a pending update the item keeps its price and quantity until the invoice is paid.
  return sub.items.data.find((i) => i.id === id) ?? findItem(ctx, id).item;
}

export const subscriptionItemRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/subscription_items/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, findItem(ctx, args.id ?? "").item, expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/subscription_items",
    handler: ({ ctx, params }) => {
      const sub = getSubscription(ctx, reqStr(params, "subscription"));
      const url = "/v1/subscription_items";
      // Items are kept in the order they were added; paginate expects newest first.
      return render(
        ctx.state,
        paginate([...sub.items.data].reverse(), params, url),
        expandList(params),
      );
    },
  },
  {
    method: "POST",
    path: "/v1/subscription_items/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updateItem(ctx, args.id ?? "", params), expandList(params)),
  },
];
