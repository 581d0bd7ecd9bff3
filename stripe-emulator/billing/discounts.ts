import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, StripeApiError } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { newId } from "../ids.ts";
import { isRecord, optArr, optStr, type Params } from "../params.ts";
import { wire } from "../store.ts";
import { addInterval } from "./periods.ts";

function missing(kind: string, id: string, param: string): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${kind}: '${id}'`,
    param,
  });
}

export function getCoupon(ctx: Ctx, id: string, param = "coupon"): Stripe.Coupon {
  const coupon = ctx.state.coupons[id];
  if (!coupon) throw missing("coupon", id, param);
  return coupon;
}

export function getPromotionCode(
  ctx: Ctx,
  id: string,
  param = "promotion_code",
): Stripe.PromotionCode {
  const promo = ctx.state.promotionCodes[id];
  if (!promo) throw missing("promotion code", id, param);
  return promo;
}

/** `valid` turns false once `redeem_by` has passed or every redemption is used. */
export function refreshCoupon(coupon: Stripe.Coupon, now: number): void {
  const expired = coupon.redeem_by !== null && coupon.redeem_by <= now;
  const full = coupon.max_redemptions !== null && coupon.times_redeemed >= coupon.max_redemptions;
  coupon.valid = !expired && !full;
}

/** One entry of a `discounts` parameter, resolved and checked; nothing is redeemed yet. */
export interface DiscountChoice {
  coupon: Stripe.Coupon;
  promotionCode: Stripe.PromotionCode | null;
  /** `{discount: di_…}`: a discount the subscription already has, kept as it is. */
  kept: Stripe.Discount | null;
}

interface LiveDiscount {
  discount: Stripe.Discount;
  coupon: Stripe.Coupon;
}

/** What a redemption is judged against: who redeems, in which currency, for how much. */
export interface Redemption {
  customer: string;
  currency: string;
  /** The first invoice's subtotal, for a promotion code's `minimum_amount`. */
  amount: number;
  /** The discounts the subscription has now (an update may keep them with `{discount}`). */
  current: readonly string[];
}

/** A subscription redeeming more discounts: judged on a full period of its items. */
export function redemptionOf(sub: Stripe.Subscription): Redemption {
  return {
    customer: typeof sub.customer === "string" ? sub.customer : sub.customer.id,
    currency: sub.currency,
    amount: discountedAmount(
      undefined,
      sub.items.data.map((i) => ({ price: i.price, quantity: i.quantity ?? 1 })),
      sub.currency,
    ),
    current: discountIds(sub),
  };
}

/**
 * Reads `discounts` (subscriptions.create/update): undefined when absent, [] when `""` (the SDK's
 * `null`, removing every discount). Every refusal happens here, before anything is changed.
 */
export function chooseDiscounts(
  ctx: Ctx,
  p: Params,
  redemption: Redemption,
): DiscountChoice[] | undefined {
  if (p.discounts === undefined) return undefined;
  const raw = optArr(p, "discounts") ?? [];
  const choices = raw.map((entry, i) => chooseOne(ctx, entry, `discounts[${i}]`, redemption));
  const coupons = choices.map((c) => c.coupon.id);
  if (new Set(coupons).size !== coupons.length) {
    throw invalidRequest(
      "The same coupon cannot be applied more than once to a subscription.",
      "discounts",
    );
  }
  return choices;
}

function chooseOne(ctx: Ctx, entry: unknown, at: string, redemption: Redemption): DiscountChoice {
  const e = isRecord(entry) ? entry : {};
  const given = (["coupon", "promotion_code", "discount"] as const).filter(
    (k) => e[k] !== undefined,
  );
  if (given.length !== 1) {
    throw invalidRequest(
      `You must specify exactly one of ${at}[coupon], ${at}[promotion_code] or ${at}[discount].`,
      at,
      given.length > 1 ? "parameters_exclusive" : "parameter_missing",
    );
  }
  const discountId = optStr(e, "discount");
  if (discountId !== undefined) return keep(ctx, discountId, `${at}[discount]`, redemption);
  const promoId = optStr(e, "promotion_code");
  if (promoId !== undefined) {
    const promotionCode = getPromotionCode(ctx, promoId, `${at}[promotion_code]`);
    checkPromotionCode(ctx, promotionCode, redemption, `${at}[promotion_code]`);
    const coupon = getCoupon(ctx, couponIdOf(promotionCode), `${at}[promotion_code]`);
    checkCoupon(ctx, coupon, redemption, `${at}[promotion_code]`);
    return { coupon, promotionCode, kept: null };
  }
  const coupon = getCoupon(ctx, optStr(e, "coupon") ?? "", `${at}[coupon]`);
  checkCoupon(ctx, coupon, redemption, `${at}[coupon]`);
  return { coupon, promotionCode: null, kept: null };
}

function keep(ctx: Ctx, id: string, at: string, redemption: Redemption): DiscountChoice {
  const discount = ctx.state.discounts[id];
  const internal = ctx.state.discountInternal[id];
  if (!discount || discount.deleted || !internal || !redemption.current.includes(id)) {
    throw missing("discount", id, at);
  }
  return { coupon: internal.coupon, promotionCode: null, kept: discount };
}

export function couponIdOf(promo: Stripe.PromotionCode): string {
  const c = promo.promotion.coupon;
  return typeof c === "string" ? c : (c?.id ?? "");
}

/** A coupon can be redeemed while `valid` (not past `redeem_by`, not fully redeemed). */
function checkCoupon(ctx: Ctx, coupon: Stripe.Coupon, redemption: Redemption, at: string): void {
  const currency = redemption.currency;
  refreshCoupon(coupon, ctx.now(redemption.customer));
  if (!coupon.valid) {
    throw invalidRequest(`Coupon expired: ${coupon.id}`, at, "coupon_expired");
  }
  if (coupon.amount_off !== null && amountOffIn(coupon, currency) === null) {
    throw invalidRequest(
      `The coupon ${coupon.id} has no amount in ${currency}, the currency of the subscription.`,
      at,
    );
  }
}

/**
 * Stripe's restrictions on a promotion code: active, not expired, not fully redeemed, for this
 * customer, a first-time customer, and a first invoice of at least `minimum_amount`.
 */
function checkPromotionCode(
  ctx: Ctx,
  promo: Stripe.PromotionCode,
  redemption: Redemption,
  at: string,
): void {
  const refusal = promotionCodeRefusal(ctx, promo, redemption);
  if (refusal) throw invalidRequest(refusal, at);
}

function promotionCodeRefusal(
  ctx: Ctx,
  promo: Stripe.PromotionCode,
  redemption: Redemption,
): string | undefined {
  const now = ctx.now(redemption.customer);
  const r = promo.restrictions;
  if (!promo.active) return `This promotion code is inactive: ${promo.code}`;
  if (promo.expires_at !== null && promo.expires_at <= now) {
    return `This promotion code has expired: ${promo.code}`;
  }
  if (promo.max_redemptions !== null && promo.times_redeemed >= promo.max_redemptions) {
    return `This promotion code has reached its maximum number of redemptions: ${promo.code}`;
  }
  if (promo.customer !== null && promo.customer !== redemption.customer) {
    return `This promotion code cannot be redeemed by this customer: ${promo.code}`;
  }
  if (r.first_time_transaction && hasPaid(ctx, redemption.customer)) {
    return `This promotion code can only be redeemed by first-time customers: ${promo.code}`;
  }
  const minimum = minimumIn(r, redemption.currency);
  if (minimum !== null && redemption.amount < minimum) {
    return `This promotion code requires a minimum amount of ${r.minimum_amount} ${r.minimum_amount_currency}: ${promo.code}`;
  }
  return undefined;
}

/** A customer with a paid invoice or a succeeded charge is no longer a first-time customer. */
function hasPaid(ctx: Ctx, customer: string): boolean {
  return (
    Object.values(ctx.state.invoices).some(
      (inv) => inv.customer === customer && inv.status === "paid" && inv.amount_paid > 0,
    ) ||
    Object.values(ctx.state.charges).some(
      (c) => c.customer === customer && c.status === "succeeded",
    )
  );
}

/** The minimum in the subscription's currency; a minimum in another currency cannot be met. */
function minimumIn(r: Stripe.PromotionCode.Restrictions, currency: string): number | null {
  if (r.minimum_amount === null) return null;
  return r.minimum_amount_currency === currency ? r.minimum_amount : Number.POSITIVE_INFINITY;
}

/** An `amount_off` coupon's amount in `currency`: only in the coupon's own currency. */
export function amountOffIn(coupon: Stripe.Coupon, currency: string): number | null {
  return coupon.amount_off !== null && coupon.currency === currency ? coupon.amount_off : null;
}

/**
 * Gives the subscription exactly the chosen discounts: new ones are redeemed (`times_redeemed`
 * counts them, `customer.discount.created`), kept ones stay, the others end
 * (`customer.discount.deleted`).
 */
export function setDiscounts(ctx: Ctx, sub: Stripe.Subscription, choices: DiscountChoice[]): void {
  const customer = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const now = ctx.now(customer);
  const ids = choices.map((c) => c.kept?.id ?? redeem(ctx, sub, customer, c, now).id);
  for (const id of discountIds(sub)) if (!ids.includes(id)) endDiscount(ctx, id);
  sub.discounts = ids;
}

function redeem(
  ctx: Ctx,
  sub: Stripe.Subscription,
  customer: string,
  choice: DiscountChoice,
  now: number,
): Stripe.Discount {
  const { coupon, promotionCode } = choice;
  const months = coupon.duration === "repeating" ? (coupon.duration_in_months ?? 0) : null;
  const discount: Stripe.Discount = {
    id: newId("di"),
    object: "discount",
    checkout_session: null,
    customer,
    customer_account: null,
    end: months === null ? null : addInterval(now, "month", months),
    invoice: null,
    invoice_item: null,
    promotion_code: promotionCode?.id ?? null,
    source: { coupon: coupon.id, type: "coupon" },
    start: now,
    subscription: sub.id,
    subscription_item: null,
  };
  coupon.times_redeemed += 1;
  refreshCoupon(coupon, now);
  if (promotionCode) promotionCode.times_redeemed += 1;
  ctx.state.discounts[discount.id] = discount;
  // The coupon as redeemed, with the `applies_to` Stripe keeps off the coupon object.
  const appliesTo = ctx.state.couponAppliesTo[coupon.id];
  const kept = { ...wire(coupon), ...(appliesTo ? { applies_to: appliesTo } : {}) };
  ctx.state.discountInternal[discount.id] = { coupon: kept, used: false };
  ctx.emit("customer.discount.created", discount, { customerId: customer });
  return discount;
}

/** The discount is removed: kept as a deleted discount for the invoices that name it. */
export function endDiscount(ctx: Ctx, id: string): Stripe.DeletedDiscount | undefined {
  const discount = ctx.state.discounts[id];
  if (!discount || discount.deleted) return undefined;
  const { end: _end, ...rest } = discount;
  const deleted: Stripe.DeletedDiscount = { ...rest, deleted: true };
  ctx.state.discounts[id] = deleted;
  const customer = typeof discount.customer === "string" ? discount.customer : null;
  ctx.emit("customer.discount.deleted", discount, { customerId: customer });
  return deleted;
}

export function discountIds(sub: Stripe.Subscription): string[] {
  return sub.discounts.map((d) => (typeof d === "string" ? d : d.id));
}

/**
 * `DELETE /v1/subscriptions/{id}/discount`: the subscription's discounts end now; the answer is
 * the (first) discount removed, as a deleted discount.
 */
export function deleteSubscriptionDiscount(
  ctx: Ctx,
  sub: Stripe.Subscription,
): Stripe.DeletedDiscount {
  const before = wire(sub);
  const [first] = discountIds(sub).flatMap((id) => endDiscount(ctx, id) ?? []);
  if (!first) {
    throw new StripeApiError(404, {
      type: "invalid_request_error",
      code: "resource_missing",
      message: `No active discount for subscription: '${sub.id}'`,
    });
  }
  sub.discounts = [];
  emitSubscriptionUpdated(ctx, sub, before);
  return first;
}

function emitSubscriptionUpdated(ctx: Ctx, sub: Stripe.Subscription, before: object): void {
  const previous = previousAttributes(before, sub);
  const customerId = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  if (previous) ctx.emit("customer.subscription.updated", sub, { previous, customerId });
}

/** The subscription's discounts that lower an invoice made at `at`. */
function currentDiscounts(ctx: Ctx, sub: Stripe.Subscription, at: number): LiveDiscount[] {
  return discountIds(sub).flatMap((id) => {
    const discount = ctx.state.discounts[id];
    const internal = ctx.state.discountInternal[id];
    if (!discount || discount.deleted || !internal || internal.used) return [];
    if (discount.end !== null && discount.end <= at) return [];
    return [{ discount, coupon: internal.coupon }];
  });
}

/**
 * Before an invoice is made, the discounts whose time is up end: a `repeating` one past its
 * `end`, a `once` one that lowered an earlier invoice. The subscription shows them until then.
 */
function expireDiscounts(ctx: Ctx, sub: Stripe.Subscription, at: number): void {
  const over = discountIds(sub).filter((id) => {
    const discount = ctx.state.discounts[id];
    if (!discount || discount.deleted) return true;
    const used = ctx.state.discountInternal[id]?.used ?? false;
    return used || (discount.end !== null && discount.end <= at);
  });
  if (over.length === 0) return;
  const before = wire(sub);
  for (const id of over) endDiscount(ctx, id);
  sub.discounts = discountIds(sub).filter((id) => !over.includes(id));
  emitSubscriptionUpdated(ctx, sub, before);
}

/**
 * Lowers a subscription invoice by the subscription's discounts: `discount_amounts` on each
 * discountable line, `total_discount_amounts` and `discounts` on the invoice, `total` after them
 * (`subtotal` stays before). The customer balance is applied to the discounted total afterwards.
 * A `preview` (an upcoming invoice, made for its time `at`) changes nothing but the invoice.
 */
export function discountInvoice(
  ctx: Ctx,
  sub: Stripe.Subscription,
  inv: Stripe.Invoice,
  preview?: { at: number },
): void {
  if (!preview) expireDiscounts(ctx, sub, inv.created);
  const live = currentDiscounts(ctx, sub, preview?.at ?? inv.created);
  if (live.length === 0) return;
  const lowered = applyToLines(inv, live);
  if (preview) return;
  for (const { discount, coupon } of live) {
    const internal = ctx.state.discountInternal[discount.id];
    if (internal && coupon.duration === "once" && (lowered.get(discount.id) ?? 0) > 0) {
      internal.used = true;
    }
  }
}

/** Applies each discount in order to what the earlier ones left; answers the amount of each. */
function applyToLines(inv: Stripe.Invoice, live: LiveDiscount[]): Map<string, number> {
  const lines = inv.lines.data;
  const left = lines.map((l) => (l.discountable && l.amount > 0 ? l.amount : 0));
  const amounts = new Map<string, number>();
  for (const { discount, coupon } of live) {
    const eligible = lines.map((l, i) => (appliesTo(coupon, l) ? (left[i] ?? 0) : 0));
    const cut = lineCuts(coupon, eligible, inv.currency);
    lines.forEach((line, i) => {
      if (!line.discountable) return;
      const amount = cut[i] ?? 0;
      left[i] = (left[i] ?? 0) - amount;
      line.discount_amounts = [...(line.discount_amounts ?? []), { amount, discount: discount.id }];
    });
    const total = cut.reduce((s, a) => s + a, 0);
    amounts.set(discount.id, total);
    inv.total_discount_amounts = [
      ...(inv.total_discount_amounts ?? []),
      { amount: total, discount: discount.id },
    ];
  }
  const off = [...amounts.values()].reduce((s, a) => s + a, 0);
  inv.discounts = live.map((d) => d.discount.id);
  inv.total = inv.subtotal - off;
  inv.total_excluding_tax = inv.total;
  return amounts;
}

function appliesTo(coupon: Stripe.Coupon, line: Stripe.InvoiceLineItem): boolean {
  const product = line.pricing?.price_details?.product;
  return appliesToProduct(coupon, typeof product === "string" ? product : undefined);
}

function appliesToProduct(coupon: Stripe.Coupon, product: string | undefined): boolean {
  const products = coupon.applies_to?.products;
  return !products || (product !== undefined && products.includes(product));
}

/**
 * What a coupon takes off each line: a percentage of each line, rounded half up per line; an
 * amount once per invoice, at most what the lines come to, spread over them in proportion (the
 * last eligible line takes the rounding).
 */
function lineCuts(coupon: Stripe.Coupon, eligible: number[], currency: string): number[] {
  if (coupon.percent_off !== null) {
    const pct = Number(coupon.percent_off);
    return eligible.map((a) => Math.min(a, Math.round((a * pct) / 100)));
  }
  const base = eligible.reduce((s, a) => s + a, 0);
  const off = Math.min(base, amountOffIn(coupon, currency) ?? 0);
  if (off === 0) return eligible.map(() => 0);
  const last = eligible.findLastIndex((a) => a > 0);
  let given = 0;
  return eligible.map((a, i) => {
    if (i === last) return off - given;
    const share = Math.floor((off * a) / base);
    given += share;
    return share;
  });
}

/**
 * What a new subscription's first invoice comes to after the chosen discounts, before it exists:
 * `error_if_incomplete` decides from it whether a payment is needed at all.
 */
export function discountedAmount(
  choices: readonly DiscountChoice[] | undefined,
  items: readonly { price: Stripe.Price; quantity: number }[],
  currency: string,
): number {
  const lines = items.map(({ price, quantity }) => ({
    amount: (price.unit_amount ?? 0) * quantity,
    product: typeof price.product === "string" ? price.product : price.product.id,
  }));
  const left = lines.map((l) => Math.max(0, l.amount));
  for (const { coupon } of choices ?? []) {
    const eligible = lines.map((l, i) =>
      appliesToProduct(coupon, l.product) ? (left[i] ?? 0) : 0,
    );
    lineCuts(coupon, eligible, currency).forEach((cut, i) => {
      left[i] = (left[i] ?? 0) - cut;
    });
  }
  return left.reduce((s, a) => s + a, 0);
}

/**
 * New subscriptions bill in flexible mode with `proration_discounts: included`: a proration's
 * amount is net of the discounts, which its line names with amounts of 0. A credit gives back
 * what the period's line was billed after its discounts ("the original amount previously
 * debited"); a charge is lowered by the percent-off discounts live at the change (an amount-off
 * coupon is taken on the invoice, not spread over prorations).
 */
export function netProrations(
  ctx: Ctx,
  sub: Stripe.Subscription,
  lines: readonly LineSeed[],
  at: number,
): void {
  const live = currentDiscounts(ctx, sub, at).filter((d) => d.coupon.percent_off !== null);
  for (const line of lines) {
    if (!line.proration) continue;
    if (line.amount < 0) netCredit(ctx, line);
    else netCharge(line, live);
  }
}

function netCredit(ctx: Ctx, line: LineSeed): void {
  const billed = billedLine(ctx, line);
  if (!billed || billed.amount <= 0) return;
  const amounts = billed.discount_amounts ?? [];
  const off = amounts.reduce((sum, d) => sum + d.amount, 0);
  if (off === 0) return;
  line.amount = Math.round((line.amount * (billed.amount - off)) / billed.amount);
  line.prorationDiscounts = amounts.map((d) =>
    typeof d.discount === "string" ? d.discount : d.discount.id,
  );
}

/** The newest line, on an invoice not voided, that billed the item's current period. */
function billedLine(ctx: Ctx, line: LineSeed): Stripe.InvoiceLineItem | undefined {
  for (const inv of Object.values(ctx.state.invoices).reverse()) {
    if (inv.status === "void") continue;
    const found = inv.lines.data.find((l) => {
      const details = l.parent?.subscription_item_details;
      return (
        details?.subscription_item === line.subscriptionItem &&
        !details.proration &&
        l.period.end === line.period.end
      );
    });
    if (found) return found;
  }
  return undefined;
}

function netCharge(line: LineSeed, live: readonly LiveDiscount[]): void {
  const product =
    typeof line.price.product === "string" ? line.price.product : line.price.product.id;
  const applied = live.filter(({ coupon }) => appliesToProduct(coupon, product));
  if (applied.length === 0) return;
  for (const { coupon } of applied) {
    line.amount -= Math.min(
      line.amount,
      Math.round((line.amount * Number(coupon.percent_off)) / 100),
    );
  }
  line.prorationDiscounts = applied.map(({ discount }) => discount.id);
}
