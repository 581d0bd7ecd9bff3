import type Stripe from "stripe";
import { formatMinor } from "./money.ts";

/**
 * A subscription's discount as the projection stores it (`subscriptions.discount`) and status shows
 * it: the promotion code, what the coupon takes off, and when the discount ends (null: it does not
 * end by date — `forever`, or `once`, which ends with the next invoice).
 */
export interface SubscriptionDiscount {
  code: string | null;
  percent_off: number | null;
  /** Minor units, in `currency`. */
  amount_off: number | null;
  currency: string | null;
  ends_at: string | null;
}

/**
 * What a subscription read from Stripe says of its discount: the stored shape, null when it has
 * none, or undefined when it cannot say (its discounts not expanded with their coupon). Every read
 * the projection is written from expands `DISCOUNT_EXPAND`; one that did not keeps the stored value.
 */
export function discountOf(sub: Stripe.Subscription): SubscriptionDiscount | null | undefined {
  const [first] = sub.discounts;
  if (first === undefined) return null;
  if (typeof first === "string") return undefined;
  const coupon = first.source.coupon;
  if (!coupon || typeof coupon === "string") return undefined;
  const promo = first.promotion_code;
  return {
    code: promo && typeof promo === "object" ? promo.code : null,
    percent_off: coupon.percent_off,
    amount_off: coupon.amount_off,
    currency: coupon.currency,
    ends_at: first.end === null ? null : new Date(first.end * 1000).toISOString(),
  };
}

/** The expansions `discountOf` needs, for every subscription read written into the projection. */
export const DISCOUNT_EXPAND = ["discounts.source.coupon", "discounts.promotion_code"];

/** Stored for a snapshot that cannot say (see `discountOf`); the upsert keeps the stored value. */
export const UNKNOWN_DISCOUNT = { unknown: true } as const;

/** The API's shape: amounts as decimal strings (docs/architecture.md, 'Money'). */
export interface DiscountBody {
  code: string | null;
  percent_off: number | null;
  amount_off: string | null;
  currency: string | null;
  ends_at: string | null;
}

export function discountBody(stored: unknown): DiscountBody | null {
  if (!stored || typeof stored !== "object" || !("ends_at" in stored)) return null;
  const d = stored as SubscriptionDiscount;
  return {
    code: d.code,
    percent_off: d.percent_off,
    amount_off: d.amount_off !== null && d.currency ? formatMinor(d.amount_off, d.currency) : null,
    currency: d.currency,
    ends_at: d.ends_at,
  };
}
