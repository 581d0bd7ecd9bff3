import type Stripe from "stripe";
import { deleteSubscriptionDiscount, getCoupon, refreshCoupon } from "../billing/discounts.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, missingParam } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { randomToken } from "../ids.ts";
import { matchesRange, paginate } from "../lists.ts";
import {
  expandList,
  mergeMetadata,
  optArr,
  optEnum,
  optInt,
  optObj,
  optStr,
  type Params,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";
import { getProduct } from "./catalog.ts";
import { getSubscription } from "./subscriptions.ts";

/** `percent_off` is a decimal (`25.5`), the only non-integer amount Stripe takes here. */
function percentOf(p: Params): number | null {
  const raw = optStr(p, "percent_off");
  if (raw === undefined) return null;
  const pct = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(pct)) {
    throw invalidParam("percent_off", `Invalid decimal: ${raw}`);
  }
  if (pct <= 0 || pct > 100) {
    throw invalidParam(
      "percent_off",
      "Invalid percent_off: must be greater than 0 and at most 100.",
    );
  }
  return pct;
}

/** Exactly one of `percent_off` and `amount_off`, the latter with its `currency`. */
function discountValueOf(
  p: Params,
): Pick<Stripe.Coupon, "percent_off" | "amount_off" | "currency"> {
  const percent = percentOf(p);
  const amount = optInt(p, "amount_off") ?? null;
  if (percent !== null && amount !== null) {
    throw invalidRequest(
      "You may only specify one of these parameters: amount_off, percent_off.",
      "amount_off",
      "parameters_exclusive",
    );
  }
  if (percent === null && amount === null) {
    throw invalidRequest("You must specify either percent_off or amount_off.", "percent_off");
  }
  if (amount === null) return { percent_off: percent, amount_off: null, currency: null };
  if (amount <= 0) throw invalidParam("amount_off", "Invalid amount_off: must be at least 1.");
  const currency = optStr(p, "currency")?.toLowerCase();
  if (!currency) throw missingParam("currency");
  return { percent_off: null, amount_off: amount, currency };
}

function durationOf(p: Params): Pick<Stripe.Coupon, "duration" | "duration_in_months"> {
  const duration = optEnum(p, "duration", ["forever", "once", "repeating"] as const) ?? "once";
  const months = optInt(p, "duration_in_months") ?? null;
  if (duration === "repeating" && (months === null || months < 1)) {
    throw invalidParam(
      "duration_in_months",
      "You must specify duration_in_months (at least 1) when duration is repeating.",
    );
  }
  if (duration !== "repeating" && months !== null) {
    throw invalidParam(
      "duration_in_months",
      "duration_in_months can only be specified when duration is repeating.",
    );
  }
  return { duration, duration_in_months: months };
}

function limitsOf(ctx: Ctx, p: Params): Pick<Stripe.Coupon, "max_redemptions" | "redeem_by"> {
  const max = optInt(p, "max_redemptions") ?? null;
  if (max !== null && max < 1) {
    throw invalidParam("max_redemptions", "Invalid max_redemptions: must be at least 1.");
  }
  const redeemBy = optInt(p, "redeem_by") ?? null;
  if (redeemBy !== null && redeemBy <= ctx.now()) {
    throw invalidParam("redeem_by", "Invalid redeem_by: must be in the future.");
  }
  return { max_redemptions: max, redeem_by: redeemBy };
}

function appliesToOf(ctx: Ctx, p: Params): Stripe.Coupon.AppliesTo | undefined {
  const raw = optObj(p, "applies_to");
  if (!raw) return undefined;
  const products = (optArr(raw, "products") ?? []).map(
    (id, i) => getProduct(ctx, String(id), `applies_to[products][${i}]`).id,
  );
  return { products };
}

function createCoupon(ctx: Ctx, p: Params): Stripe.Coupon {
  const id = optStr(p, "id") ?? randomToken(8);
  const value = discountValueOf(p);
  const appliesTo = appliesToOf(ctx, p);
  const coupon: Stripe.Coupon = {
    id,
    object: "coupon",
    amount_off: value.amount_off,
    created: ctx.now(),
    currency: value.currency,
    ...durationOf(p),
    livemode: false,
    ...limitsOf(ctx, p),
    metadata: mergeMetadata({}, p),
    name: optStr(p, "name") ?? null,
    percent_off: value.percent_off,
    times_redeemed: 0,
    valid: true,
  };
  if (ctx.state.coupons[id]) {
    throw invalidRequest("Coupon already exists.", "id", "resource_already_exists");
  }
  ctx.state.coupons[id] = coupon;
  if (appliesTo) ctx.state.couponAppliesTo[id] = appliesTo;
  ctx.emit("coupon.created", coupon);
  return coupon;
}

/** Only `name` and `metadata` change: a coupon's value and duration are fixed once created. */
function updateCoupon(ctx: Ctx, id: string, p: Params): Stripe.Coupon {
  const coupon = current(ctx, id);
  const before = wire(coupon);
  const name = optStr(p, "name");
  if (name !== undefined) coupon.name = name === "" ? null : name;
  coupon.metadata = mergeMetadata(coupon.metadata ?? {}, p);
  const previous = previousAttributes(before, coupon);
  if (previous) ctx.emit("coupon.updated", coupon, { previous });
  return coupon;
}

/** Deleting a coupon stops new redemptions; the discounts already made from it go on. */
function deleteCoupon(ctx: Ctx, id: string): Stripe.DeletedCoupon {
  const coupon = current(ctx, id);
  delete ctx.state.coupons[id];
  delete ctx.state.couponAppliesTo[id];
  ctx.emit("coupon.deleted", coupon);
  return { id, object: "coupon", deleted: true };
}

/** A coupon as it stands now: `valid` follows the clock past `redeem_by`. */
function current(ctx: Ctx, id: string, param = "coupon"): Stripe.Coupon {
  const coupon = getCoupon(ctx, id, param);
  refreshCoupon(coupon, ctx.now());
  return coupon;
}

function listCoupons(ctx: Ctx, p: Params): Stripe.Coupon[] {
  const all = Object.values(ctx.state.coupons).filter((c) => matchesRange(c.created, p.created));
  for (const c of all) refreshCoupon(c, ctx.now());
  return all;
}

export const couponRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/coupons",
    handler: ({ ctx, params }) => render(ctx.state, createCoupon(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/coupons/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, current(ctx, args.id ?? "", "id"), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/coupons/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updateCoupon(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "DELETE",
    path: "/v1/coupons/:id",
    handler: ({ ctx, args }) => deleteCoupon(ctx, args.id ?? ""),
  },
  {
    method: "GET",
    path: "/v1/coupons",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(listCoupons(ctx, params), params, "/v1/coupons"),
        expandList(params),
      ),
  },
];

export const subscriptionDiscountRoutes: Route[] = [
  {
    method: "DELETE",
    path: "/v1/subscriptions/:id/discount",
    handler: ({ ctx, args }) =>
      deleteSubscriptionDiscount(ctx, getSubscription(ctx, args.id ?? "")),
  },
];
