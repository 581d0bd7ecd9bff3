import type Stripe from "stripe";
import type { LineSeed } from "./builders/invoice.ts";
import type { CardBehavior } from "./cards.ts";

/** Billing state Stripe keeps but does not show on the subscription object. */
export interface SubscriptionInternal {
  paymentBehavior: "allow_incomplete" | "default_incomplete" | "error_if_incomplete";
  trialWillEndSent: boolean;
  upcomingSentFor: number | null;
}

export interface PaymentMethodInternal {
  behavior: CardBehavior;
  /** `authenticationRequiredOnSetup` cards pass off-session once authenticated once. */
  setUp: boolean;
}

export interface InvoiceInternal {
  /** When a draft invoice is finalized and charged (Stripe waits about an hour). */
  finalizeAt: number | null;
  retriesDone: number;
  firstFailedAt: number | null;
}

/** A discount keeps the coupon as it was redeemed: deleting the coupon later does not end it. */
export interface DiscountInternal {
  coupon: Stripe.Coupon;
  /** A `once` discount is used up by the first invoice it lowers, and ends before the next. */
  used: boolean;
}

export interface IdempotencyRecord {
  fingerprint: string;
  status: number;
  body: string;
  at: number;
}

export interface State {
  customers: Record<string, Stripe.Customer>;
  deletedCustomers: Record<string, Stripe.DeletedCustomer>;
  paymentMethods: Record<string, Stripe.PaymentMethod>;
  products: Record<string, Stripe.Product>;
  prices: Record<string, Stripe.Price>;
  subscriptions: Record<string, Stripe.Subscription>;
  subscriptionSchedules: Record<string, Stripe.SubscriptionSchedule>;
  /** Per schedule, the end its `subscription_schedule.expiring` was sent for. */
  scheduleExpiringSentFor: Record<string, number>;
  invoices: Record<string, Stripe.Invoice>;
  invoicePayments: Record<string, Stripe.InvoicePayment>;
  paymentIntents: Record<string, Stripe.PaymentIntent>;
  charges: Record<string, Stripe.Charge>;
  refunds: Record<string, Stripe.Refund>;
  setupIntents: Record<string, Stripe.SetupIntent>;
  /** Each confirmation of a SetupIntent (`latest_attempt`, `setupAttempts.list`). */
  setupAttempts: Record<string, Stripe.SetupAttempt>;
  checkoutSessions: Record<string, Stripe.Checkout.Session>;
  portalSessions: Record<string, Stripe.BillingPortal.Session>;
  events: Record<string, Stripe.EventBase>;
  webhookEndpoints: Record<string, Stripe.WebhookEndpoint>;
  testClocks: Record<string, Stripe.TestHelpers.TestClock>;
  subInternal: Record<string, SubscriptionInternal>;
  /** Proration lines per subscription, billed on its next invoice. */
  pendingLines: Record<string, LineSeed[]>;
  /** Invoice items: the prorations, pending (`invoice: null`) until an invoice takes them. */
  invoiceItems: Record<string, Stripe.InvoiceItem>;
  /** The invoice each subscription's `pending_update` waits on (`pending_if_incomplete`). */
  pendingUpdates: Record<string, { invoice: string }>;
  /** The customer balance ledger; `customer.balance` is the running sum. */
  balanceTransactions: Record<string, Stripe.CustomerBalanceTransaction>;
  /** What each open Checkout Session subscribes to once completed. */
  checkoutPlans: Record<
    string,
    {
      items: { price: string; quantity: number }[];
      subscriptionData: Record<string, unknown>;
      /** `setup_intent_data` of a `mode=setup` session, for the SetupIntent it creates. */
      setupIntentData?: Record<string, unknown>;
    }
  >;
  /** A Checkout Session's line items (`checkout.sessions.listLineItems`), by session id. */
  checkoutLineItems: Record<string, Stripe.LineItem[]>;
  pmInternal: Record<string, PaymentMethodInternal>;
  invoiceInternal: Record<string, InvoiceInternal>;
  coupons: Record<string, Stripe.Coupon>;
  /** A coupon's `applies_to`, which Stripe shows only when expanded. */
  couponAppliesTo: Record<string, Stripe.Coupon.AppliesTo>;
  promotionCodes: Record<string, Stripe.PromotionCode>;
  /** Discounts ever redeemed; an ended one stays (deleted) for the invoices that name it. */
  discounts: Record<string, Stripe.Discount | Stripe.DeletedDiscount>;
  discountInternal: Record<string, DiscountInternal>;
  /** Secrets are shown once at creation; kept here for signing. */
  endpointSecrets: Record<string, string>;
  idempotency: Record<string, IdempotencyRecord>;
  /** Seconds added to the wall clock for customers without a test clock. */
  clockOffsetSeconds: number;
}

export function emptyState(): State {
  return {
    customers: {},
    deletedCustomers: {},
    paymentMethods: {},
    products: {},
    prices: {},
    subscriptions: {},
    subscriptionSchedules: {},
    scheduleExpiringSentFor: {},
    invoices: {},
    invoicePayments: {},
    paymentIntents: {},
    charges: {},
    refunds: {},
    setupIntents: {},
    setupAttempts: {},
    checkoutSessions: {},
    portalSessions: {},
    events: {},
    webhookEndpoints: {},
    testClocks: {},
    subInternal: {},
    pendingLines: {},
    invoiceItems: {},
    pendingUpdates: {},
    balanceTransactions: {},
    checkoutPlans: {},
    checkoutLineItems: {},
    pmInternal: {},
    invoiceInternal: {},
    coupons: {},
    couponAppliesTo: {},
    promotionCodes: {},
    discounts: {},
    discountInternal: {},
    endpointSecrets: {},
    idempotency: {},
    clockOffsetSeconds: 0,
  };
}

/**
 * Objects are stored in their wire form: a JSON round trip turns `Stripe.Decimal` values into
 * the strings Stripe sends and detaches the stored copy from the caller's.
 */
export function wire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** Which collection holds an id, by its prefix, for `expand`. */
const COLLECTIONS: [string, keyof State][] = [
  ["cus_", "customers"],
  ["pm_", "paymentMethods"],
  ["prod_", "products"],
  ["price_", "prices"],
  ["sub_sched_", "subscriptionSchedules"],
  ["sub_", "subscriptions"],
  ["inpay_", "invoicePayments"],
  ["in_", "invoices"],
  ["ii_", "invoiceItems"],
  ["cbtxn_", "balanceTransactions"],
  ["pi_", "paymentIntents"],
  ["ch_", "charges"],
  ["re_", "refunds"],
  ["seti_", "setupIntents"],
  ["setatt_", "setupAttempts"],
  ["cs_", "checkoutSessions"],
  ["evt_", "events"],
  ["we_", "webhookEndpoints"],
  ["clock_", "testClocks"],
  ["promo_", "promotionCodes"],
  ["di_", "discounts"],
];

export function lookupAny(state: State, id: string): object | undefined {
  for (const [prefix, key] of COLLECTIONS) {
    if (!id.startsWith(prefix)) continue;
    const coll = state[key];
    if (typeof coll !== "object") return undefined;
    const found: unknown = (coll as Record<string, unknown>)[id];
    if (typeof found === "object" && found !== null) return found;
    if (key === "customers") return state.deletedCustomers[id];
    return undefined;
  }
  // Coupon ids are chosen by the account and have no prefix.
  return state.coupons[id];
}
