import type Stripe from "stripe";
import {
  arr,
  bool,
  emptyable,
  int,
  metadata,
  obj,
  oneOf,
  pagination,
  range,
  type Shape,
  shape,
  str,
} from "./schema.ts";

/** The `discounts` parameter of subscriptions.create/update: one of coupon, promotion code, discount. */
export const discountsParam = emptyable(
  arr(
    obj<Stripe.SubscriptionCreateParams.Discount>({
      coupon: str,
      discount: str,
      promotion_code: str,
    }),
  ),
);

/** Coupons, promotion codes and the subscription's discount. */
export const discountDeclarations: Record<string, Shape> = {
  "POST /v1/coupons": shape<Stripe.CouponCreateParams>({
    amount_off: int,
    applies_to: obj<Stripe.CouponCreateParams.AppliesTo>({ products: arr(str) }),
    currency: str,
    duration: oneOf<Stripe.CouponCreateParams.Duration>("forever", "once", "repeating"),
    duration_in_months: int,
    id: str,
    max_redemptions: int,
    metadata,
    name: str,
    // A decimal ("25.5"): checked when the coupon is made.
    percent_off: str,
    redeem_by: int,
  }),
  "GET /v1/coupons/:id": shape<Stripe.CouponRetrieveParams>({}),
  "POST /v1/coupons/:id": shape<Stripe.CouponUpdateParams>({ metadata, name: str }),
  "DELETE /v1/coupons/:id": shape<Stripe.CouponDeleteParams>({}),
  "GET /v1/coupons": shape<Stripe.CouponListParams>({ ...pagination, created: range }),
  "POST /v1/promotion_codes": shape<Stripe.PromotionCodeCreateParams>({
    active: bool,
    code: str,
    customer: str,
    expires_at: int,
    max_redemptions: int,
    metadata,
    promotion: obj<Stripe.PromotionCodeCreateParams.Promotion>({
      coupon: str,
      type: oneOf<Stripe.PromotionCodeCreateParams.Promotion["type"]>("coupon"),
    }),
    restrictions: obj<Stripe.PromotionCodeCreateParams.Restrictions>({
      first_time_transaction: bool,
      minimum_amount: int,
      minimum_amount_currency: str,
    }),
  }),
  "GET /v1/promotion_codes/:id": shape<Stripe.PromotionCodeRetrieveParams>({}),
  "POST /v1/promotion_codes/:id": shape<Stripe.PromotionCodeUpdateParams>({
    active: bool,
    metadata,
  }),
  "GET /v1/promotion_codes": shape<Stripe.PromotionCodeListParams>({
    ...pagination,
    active: bool,
    code: str,
    coupon: str,
    created: range,
    customer: str,
  }),
  "DELETE /v1/subscriptions/:id/discount": shape<Stripe.SubscriptionDeleteDiscountParams>({}),
};
