import Stripe from "stripe";
import { fieldError } from "../platform/http/errors.ts";
import type { Plan } from "./plans-service.ts";

/**
 * A promotion code as the customer typed it, checked at Stripe: it exists and is active, its
 * coupon still redeems, and it applies to the plan's product. Answers the `promo_…` id to redeem;
 * anything else is a 400 on `promotion_code`. Stripe checks the rest (expiry, first-time-only,
 * minimum amount, another customer's code) when the discount is redeemed: `promotionCodeError`
 * turns that refusal into the same 400.
 */
export async function resolvePromotionCode(
  stripe: Stripe,
  code: string,
  plan: Plan,
): Promise<string> {
  const found = await stripe.promotionCodes.list({ code, active: true, limit: 1 });
  const promo = found.data[0];
  if (!promo) throw fieldError("promotion_code", "This promotion code is not valid.");
  const couponRef = promo.promotion.coupon;
  const couponId = typeof couponRef === "string" ? couponRef : couponRef?.id;
  if (!couponId) throw fieldError("promotion_code", "This promotion code is not valid.");
  const coupon = await stripe.coupons.retrieve(couponId, { expand: ["applies_to"] });
  if (!coupon.valid) throw fieldError("promotion_code", "This promotion code has expired.");
  const products = coupon.applies_to?.products;
  if (products && products.length > 0 && !products.includes(plan.stripeProductId)) {
    throw fieldError("promotion_code", `This promotion code does not apply to ${plan.name}.`);
  }
  return promo.id;
}

/** Stripe's refusal of a discount (`discounts[…]`, `phases[…][discounts]…`) as the field's 400. */
export function promotionCodeError(err: unknown): Error | undefined {
  if (!(err instanceof Stripe.errors.StripeError)) return undefined;
  if (err instanceof Stripe.errors.StripeCardError) return undefined;
  if (!err.param?.includes("discounts") && err.code !== "coupon_expired") return undefined;
  return fieldError("promotion_code", err.message);
}
