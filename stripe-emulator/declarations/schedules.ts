import type Stripe from "stripe";
import { discountsParam } from "./discounts.ts";
import {
  arr,
  bool,
  either,
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

type UpdatePhase = Stripe.SubscriptionScheduleUpdateParams.Phase;

const nowOrTimestamp = either(oneOf("now"), int);

/** `none` and `renew` are legacy values the emulator does not model, so they are refused. */
const endBehavior = oneOf<Stripe.SubscriptionScheduleCreateParams.EndBehavior>("cancel", "release");

const prorationBehavior = oneOf<Stripe.SubscriptionScheduleCreateParams.Phase.ProrationBehavior>(
  "always_invoice",
  "create_prorations",
  "none",
);

const phaseItem = obj<Stripe.SubscriptionScheduleCreateParams.Phase.Item>({
  price: str,
  quantity: int,
});

const duration = obj<Stripe.SubscriptionScheduleCreateParams.Phase.Duration>({
  interval: oneOf<Stripe.SubscriptionScheduleCreateParams.Phase.Duration.Interval>(
    "day",
    "week",
    "month",
    "year",
  ),
  interval_count: int,
});

const phaseFields = {
  billing_cycle_anchor: oneOf<Stripe.SubscriptionScheduleCreateParams.Phase.BillingCycleAnchor>(
    "automatic",
    "phase_start",
  ),
  description: emptyable(str),
  discounts: discountsParam,
  duration,
  items: arr(phaseItem),
  metadata,
  proration_behavior: prorationBehavior,
  trial: bool,
};

/** Subscription schedules: phases of items on the emulator's clock, release and cancel. */
export const scheduleDeclarations: Record<string, Shape> = {
  "POST /v1/subscription_schedules": shape<Stripe.SubscriptionScheduleCreateParams>({
    customer: str,
    end_behavior: endBehavior,
    from_subscription: str,
    metadata,
    phases: arr(
      obj<Stripe.SubscriptionScheduleCreateParams.Phase>({
        ...phaseFields,
        end_date: int,
        trial_end: int,
      }),
    ),
    start_date: nowOrTimestamp,
  }),
  "GET /v1/subscription_schedules/:id": shape<Stripe.SubscriptionScheduleRetrieveParams>({}),
  "POST /v1/subscription_schedules/:id": shape<Stripe.SubscriptionScheduleUpdateParams>({
    end_behavior: endBehavior,
    metadata,
    phases: arr(
      obj<UpdatePhase>({
        ...phaseFields,
        end_date: nowOrTimestamp,
        start_date: nowOrTimestamp,
        trial_end: nowOrTimestamp,
      }),
    ),
    proration_behavior: prorationBehavior,
  }),
  "GET /v1/subscription_schedules": shape<Stripe.SubscriptionScheduleListParams>({
    ...pagination,
    canceled_at: range,
    completed_at: range,
    created: range,
    customer: str,
    released_at: range,
    scheduled: bool,
  }),
  "POST /v1/subscription_schedules/:id/release": shape<Stripe.SubscriptionScheduleReleaseParams>({
    preserve_cancel_date: bool,
  }),
  "POST /v1/subscription_schedules/:id/cancel": shape<Stripe.SubscriptionScheduleCancelParams>({
    invoice_now: bool,
    prorate: bool,
  }),
};
