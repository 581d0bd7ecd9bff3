import type Stripe from "stripe";
import { updateSubscription } from "../billing/update-subscription.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, noSuchObject } from "../errors.ts";
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

/**
 * `POST /v1/subscription_items`: `subscriptions.update` adding `items[0][price]`. With a pending
 * update the new item is the one `pending_update.subscription_items` holds.
 */
function createItem(ctx: Ctx, p: Params): Stripe.SubscriptionItem {
  const { subscription, price, quantity, ...rest } = p;
  const sub = getSubscription(ctx, reqStr(p, "subscription"));
  const priceId = reqStr(p, "price");
  if (sub.items.data.some((i) => i.price.id === priceId)) {
    throw invalidRequest(
      `Cannot add multiple subscription items with the same price: ${priceId}.`,
      "price",
    );
  }
  const before = new Set(sub.items.data.map((i) => i.id));
  const added: Record<string, unknown> = { price };
  if (quantity !== undefined) added.quantity = quantity;
  updateSubscription(ctx, sub, { ...rest, items: [added] });
  const items = sub.pending_update?.subscription_items ?? sub.items.data;
  const item = items.find((i) => !before.has(i.id));
  if (!item) throw new Error(`subscription ${String(subscription)} gained no item`);
  return item;
}

/** `DELETE /v1/subscription_items/{id}`: `subscriptions.update` with `items[0][deleted]`. */
function deleteItem(ctx: Ctx, id: string, p: Params): Stripe.DeletedSubscriptionItem {
  const { sub } = findItem(ctx, id);
  if (p.payment_behavior === "pending_if_incomplete") {
    throw invalidRequest(
      "Removing a subscription item cannot be a pending update (payment_behavior=pending_if_incomplete).",
      "payment_behavior",
    );
  }
  updateSubscription(ctx, sub, { ...p, items: [{ id, deleted: "true" }] });
  return { id, object: "subscription_item", deleted: true };
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
    path: "/v1/subscription_items",
    handler: ({ ctx, params }) => render(ctx.state, createItem(ctx, params), expandList(params)),
  },
  {
    method: "DELETE",
    path: "/v1/subscription_items/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, deleteItem(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/subscription_items/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updateItem(ctx, args.id ?? "", params), expandList(params)),
  },
];
