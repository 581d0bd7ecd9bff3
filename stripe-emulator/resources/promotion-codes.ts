import type Stripe from "stripe";
import { couponIdOf, getCoupon, getPromotionCode, refreshCoupon } from "../billing/discounts.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, missingParam } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { newId, randomToken } from "../ids.ts";
import { matchesRange, paginate } from "../lists.ts";
import {
  expandList,
  mergeMetadata,
  optBool,
  optInt,
  optObj,
  optStr,
  type Params,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";
import { getCustomer } from "./customers.ts";

/** Codes are unique among active promotion codes, whatever their case. */
function claimCode(ctx: Ctx, code: string, self?: string): void {
  const taken = Object.values(ctx.state.promotionCodes).some(
    (pc) => pc.active && pc.id !== self && pc.code.toLowerCase() === code.toLowerCase(),
  );
  if (taken) {
    throw invalidRequest(
      `An active promotion code with \`code: ${code}\` already exists.`,
      "code",
      "resource_already_exists",
    );
  }
}

function restrictionsOf(p: Params): Stripe.PromotionCode.Restrictions {
  const r = optObj(p, "restrictions");
  const minimum = r ? (optInt(r, "minimum_amount") ?? null) : null;
  const currency = r ? (optStr(r, "minimum_amount_currency")?.toLowerCase() ?? null) : null;
  if (minimum !== null && currency === null) {
    throw missingParam("restrictions[minimum_amount_currency]");
  }
  if (minimum === null && currency !== null) throw missingParam("restrictions[minimum_amount]");
  return {
    first_time_transaction: (r && optBool(r, "first_time_transaction")) ?? false,
    minimum_amount: minimum,
    minimum_amount_currency: currency,
  };
}

/** A code cannot outlive its coupon: `expires_at` is in the future and not after `redeem_by`. */
function expiresAtOf(ctx: Ctx, p: Params, coupon: Stripe.Coupon): number | null {
  const expiresAt = optInt(p, "expires_at") ?? null;
  if (expiresAt === null) return null;
  if (expiresAt <= ctx.now()) {
    throw invalidParam("expires_at", "Invalid expires_at: must be in the future.");
  }
  if (coupon.redeem_by !== null && expiresAt > coupon.redeem_by) {
    throw invalidParam(
      "expires_at",
      "The promotion code's expires_at cannot be later than its coupon's redeem_by.",
    );
  }
  return expiresAt;
}

function createPromotionCode(ctx: Ctx, p: Params): Stripe.PromotionCode {
  const promotion = optObj(p, "promotion");
  if (!promotion) throw missingParam("promotion");
  const couponId = optStr(promotion, "coupon");
  if (!couponId) throw missingParam("promotion[coupon]");
  const coupon = getCoupon(ctx, couponId, "promotion[coupon]");
  refreshCoupon(coupon, ctx.now());
  if (!coupon.valid) {
    throw invalidRequest(`Coupon expired: ${coupon.id}`, "promotion[coupon]", "coupon_expired");
  }
  const code = optStr(p, "code") ?? randomToken(8).toUpperCase();
  const active = optBool(p, "active") ?? true;
  if (active) claimCode(ctx, code);
  const customer = optStr(p, "customer");
  const max = optInt(p, "max_redemptions") ?? null;
  if (max !== null && max < 1) {
    throw invalidParam("max_redemptions", "Invalid max_redemptions: must be at least 1.");
  }
  const promo: Stripe.PromotionCode = {
    id: newId("promo"),
    object: "promotion_code",
    active,
    code,
    created: ctx.now(),
    customer: customer ? getCustomer(ctx, customer, "customer").id : null,
    customer_account: null,
    expires_at: expiresAtOf(ctx, p, coupon),
    livemode: false,
    max_redemptions: max,
    metadata: mergeMetadata({}, p),
    promotion: { coupon: coupon.id, type: "coupon" },
    restrictions: restrictionsOf(p),
    times_redeemed: 0,
  };
  ctx.state.promotionCodes[promo.id] = promo;
  ctx.emit("promotion_code.created", promo);
  return promo;
}

/** Only `active` and `metadata` change; reactivating a code claims it again. */
function updatePromotionCode(ctx: Ctx, id: string, p: Params): Stripe.PromotionCode {
  const promo = getPromotionCode(ctx, id, "id");
  const before = wire(promo);
  const active = optBool(p, "active");
  if (active === true && !promo.active) claimCode(ctx, promo.code, promo.id);
  if (active !== undefined) promo.active = active;
  promo.metadata = mergeMetadata(promo.metadata ?? {}, p);
  const previous = previousAttributes(before, promo);
  if (previous) ctx.emit("promotion_code.updated", promo, { previous });
  return promo;
}

function listPromotionCodes(ctx: Ctx, p: Params): Stripe.PromotionCode[] {
  const code = optStr(p, "code")?.toLowerCase();
  const active = optBool(p, "active");
  const coupon = optStr(p, "coupon");
  const customer = optStr(p, "customer");
  return Object.values(ctx.state.promotionCodes).filter(
    (pc) =>
      (code === undefined || pc.code.toLowerCase() === code) &&
      (active === undefined || pc.active === active) &&
      (coupon === undefined || couponIdOf(pc) === coupon) &&
      (customer === undefined || pc.customer === customer) &&
      matchesRange(pc.created, p.created),
  );
}

export const promotionCodeRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/promotion_codes",
    handler: ({ ctx, params }) =>
      render(ctx.state, createPromotionCode(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/promotion_codes/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getPromotionCode(ctx, args.id ?? "", "id"), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/promotion_codes/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updatePromotionCode(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/promotion_codes",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(listPromotionCodes(ctx, params), params, "/v1/promotion_codes"),
        expandList(params),
      ),
  },
];
