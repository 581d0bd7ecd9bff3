import type Stripe from "stripe";
import { newId } from "../ids.ts";
import type { State } from "../store.ts";
import { buildItem, planFromPrice } from "./subscription.ts";

/** One phase as the emulator resolved it from the request: concrete dates, known prices. */
export interface PhaseSeed {
  start: number;
  end: number;
  items: { price: Stripe.Price; quantity: number }[];
  currency: string;
  prorationBehavior: Stripe.SubscriptionSchedule.Phase.ProrationBehavior;
  billingCycleAnchor: Stripe.SubscriptionSchedule.Phase.BillingCycleAnchor | null;
  trialEnd: number | null;
  metadata: Record<string, string>;
  description: string | null;
  /** As requested: each names one coupon, promotion code or discount the subscription has. */
  discounts: Stripe.SubscriptionSchedule.Phase.Discount[];
}

/**
 * A phase in Stripe's shape. Its items name their price and plan by id: Stripe returns them
 * unexpanded in a schedule's phases.
 */
export function buildPhase(seed: PhaseSeed): Stripe.SubscriptionSchedule.Phase {
  return {
    add_invoice_items: [],
    application_fee_percent: null,
    billing_cycle_anchor: seed.billingCycleAnchor,
    billing_thresholds: null,
    collection_method: null,
    currency: seed.currency,
    default_payment_method: null,
    default_tax_rates: [],
    description: seed.description,
    discounts: seed.discounts,
    end_date: seed.end,
    invoice_settings: null,
    items: seed.items.map(({ price, quantity }) => ({
      billing_thresholds: null,
      discounts: [],
      metadata: {},
      plan: planFromPrice(price).id,
      price: price.id,
      quantity,
      tax_rates: [],
    })),
    metadata: seed.metadata,
    on_behalf_of: null,
    proration_behavior: seed.prorationBehavior,
    start_date: seed.start,
    transfer_data: null,
    trial_end: seed.trialEnd,
  };
}

export interface ScheduleSeed {
  customer: string;
  created: number;
  testClock: string | null;
  endBehavior: Stripe.SubscriptionSchedule.EndBehavior;
  metadata: Record<string, string>;
  defaultPaymentMethod: string | null;
}

export function buildSchedule(
  seed: ScheduleSeed,
  phases: Stripe.SubscriptionSchedule.Phase[],
): Stripe.SubscriptionSchedule {
  return {
    id: newId("sub_sched"),
    object: "subscription_schedule",
    application: null,
    billing_mode: {
      flexible: { proration_discounts: "included" },
      type: "flexible",
      updated_at: seed.created,
    },
    canceled_at: null,
    completed_at: null,
    created: seed.created,
    current_phase: null,
    customer: seed.customer,
    customer_account: null,
    default_settings: {
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null },
      billing_cycle_anchor: "automatic",
      billing_thresholds: null,
      collection_method: "charge_automatically",
      default_payment_method: seed.defaultPaymentMethod,
      description: null,
      invoice_settings: {
        account_tax_ids: null,
        custom_fields: null,
        days_until_due: null,
        description: null,
        footer: null,
        issuer: { type: "self" },
      },
      on_behalf_of: null,
      transfer_data: null,
    },
    end_behavior: seed.endBehavior,
    livemode: false,
    metadata: seed.metadata,
    pause_schedules: [],
    phases,
    released_at: null,
    released_subscription: null,
    status: "not_started",
    subscription: null,
    test_clock: seed.testClock,
  };
}

/**
 * The subscription as its schedule's next phase makes it at `at` (the current period's end),
 * so the upcoming invoice bills what the renewal will: the subscription itself when no phase of
 * an active schedule starts then. Items whose price stays keep their id.
 */
export function subscriptionAt(
  state: State,
  sub: Stripe.Subscription,
  at: number,
): Stripe.Subscription {
  const id = typeof sub.schedule === "string" ? sub.schedule : sub.schedule?.id;
  const sched = id ? state.subscriptionSchedules[id] : undefined;
  const phase =
    sched?.status === "active" ? sched.phases.find((p) => p.start_date === at) : undefined;
  const first = sub.items.data[0];
  if (!phase || !first) return sub;
  const period = { start: first.current_period_start, end: first.current_period_end };
  const data = phase.items.flatMap((item) => {
    const price = state.prices[typeof item.price === "string" ? item.price : item.price.id];
    if (!price) return [];
    const quantity = item.quantity ?? 1;
    const same = sub.items.data.find((i) => i.price.id === price.id);
    return [same ? { ...same, quantity } : buildItem(price, quantity, sub.id, period, at)];
  });
  return { ...sub, items: { ...sub.items, data } };
}
