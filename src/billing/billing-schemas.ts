import { Type } from "typebox";
import { businessFailure } from "../platform/http/error-schemas.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { Paginated } from "../platform/http/pagination.ts";

const Money = Type.String({
  description:
    "Decimal string in major units with the currency's decimals: 9.99, 1000 (JPY), 1.250 (KWD).",
  examples: ["9.99"],
});
const Time = Type.String({ format: "date-time" });
const NullableTime = Nullable(Time);

/**
 * The 409 of the routes that write a subscription at Stripe: one such write per user at a time
 * (src/billing/billing-lock.ts).
 */
export const writeInProgressFailure = businessFailure(
  409,
  "Another change, cancellation or reactivation of this subscription is in progress: nothing was done; try again when it has finished.",
);

/** An example plan id, used wherever a plan id appears (the real ones come from `plans/`). */
const PLAN_ID = "5d0b8a52-3c1e-4f7a-9b2d-6e8f1a4c7b39";

/** What a plan grants: feature flags and numeric limits (docs/access.md). */
export const Entitlements = Type.Record(
  Type.String({ pattern: "^[a-z][a-z0-9_]{0,39}$" }),
  // A type list, not anyOf: the serializer picks by typeof (see Nullable).
  Type.Unsafe<boolean | number>({ type: ["boolean", "integer"], minimum: 0 }),
  {
    description:
      "Feature flags and numeric limits the plan grants, set with `plans:set --entitlements`; `{}` when none.",
    examples: [{ projects: 10, api_access: true }],
  },
);

export const Plan = Type.Object({
  id: Type.String({ format: "uuid", examples: [PLAN_ID] }),
  name: Type.String({ examples: ["Starter"] }),
  description: Type.String({ examples: ["For individuals getting started."] }),
  stripe_price_id: Type.String({ examples: ["price_1QfXb2LkdIwHu7ixz1Starter"] }),
  amount: Money,
  currency: Type.String({ description: "Lowercase ISO 4217 code.", examples: ["usd"] }),
  interval: Type.String({ enum: ["month", "year"] }),
  features: Type.Array(Type.String(), {
    examples: [["5 projects", "10 GB storage", "Email support"]],
  }),
  monthly_amount: Type.String({
    description:
      "`amount` per month (a yearly price / 12, rounded half up to the currency's minor unit): the plan's rank; a change to a plan with a higher one is an upgrade. Comparable only between plans of one currency.",
    examples: ["9.99"],
  }),
  trial_days: Type.Integer({
    minimum: 0,
    maximum: 730,
    description: "Free days before the first charge; 0 = no trial.",
    examples: [0],
  }),
  per_seat: Type.Boolean({
    description: "Billed per seat: the subscription's quantity is the number of seats.",
  }),
  min_quantity: Type.Integer({ minimum: 1, description: "Fewest seats (1 unless per seat)." }),
  max_quantity: Nullable(Type.Integer({ minimum: 1, description: "Most seats; null = no limit." })),
  entitlements: Entitlements,
});

export const PlanPage = Paginated(Plan);

/** A discount in effect (a promotion code redeemed on create or on a change). */
export const Discount = Type.Object(
  {
    code: Nullable(Type.String({ description: "The promotion code.", examples: ["LAUNCH20"] })),
    percent_off: Nullable(Type.Number({ examples: [20] })),
    amount_off: Nullable(Money),
    currency: Nullable(Type.String({ description: "The currency of `amount_off`." })),
    ends_at: Nullable(
      Type.String({
        format: "date-time",
        description: "When it stops applying; null when it does not end by date.",
      }),
    ),
  },
  { description: "The subscription's discount: either `percent_off` or `amount_off` is set." },
);

/** A change of plan or seats scheduled for the end of the period (`change/`). */
export const PendingChange = Type.Object(
  {
    plan: Plan,
    quantity: Type.Integer({ minimum: 1 }),
    effective_at: Type.String({ format: "date-time", description: "The current period's end." }),
  },
  { description: "Cancel it with DELETE change/; another change replaces it." },
);

const subscriptionFields = {
  id: Type.String({ format: "uuid" }),
  plan: Nullable(Plan),
  stripe_subscription_id: Type.String({ examples: ["sub_1QfXc4LkdIwHu7ixq8Rk2mZt"] }),
  status: Type.String({
    description:
      "Stripe's status: active, trialing, past_due, incomplete, incomplete_expired, canceled, unpaid, paused.",
    examples: ["active"],
  }),
  is_active: Type.Boolean({ description: "True for active and trialing." }),
  current_period_start: NullableTime,
  current_period_end: NullableTime,
  cancel_at_period_end: Type.Boolean(),
  canceled_at: NullableTime,
  quantity: Type.Integer({ minimum: 1, description: "Seats on a per-seat plan; 1 otherwise." }),
  unit_amount: Nullable(Money),
  discount: Nullable(Discount),
  pending_change: Type.Optional(Nullable(PendingChange)),
  created_at: Time,
  updated_at: Time,
};

export const Subscription = Type.Object(subscriptionFields);

/** `status/`: the current subscription, or only `status: "inactive"` when there is none. */
export const SubscriptionStatus = Type.Object({
  ...Object.fromEntries(Object.entries(subscriptionFields).map(([k, v]) => [k, Type.Optional(v)])),
  status: subscriptionFields.status,
  is_active: subscriptionFields.is_active,
  plan: subscriptionFields.plan,
});

export const CreateBody = Type.Object({
  plan_id: Type.String({
    format: "uuid",
    description: "A plan's `id` from `plans/`.",
    examples: [PLAN_ID],
  }),
  payment_method_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        "A Stripe PaymentMethod id. Test cards: pm_card_visa (succeeds), pm_card_authenticationRequired (3-D Secure), pm_card_visa_chargeDeclined (402). May be left out for a plan with `trial_days` the user has not used a trial on: the trial then runs without a card (TRIAL_WITHOUT_CARD_END says how it ends).",
      examples: ["pm_card_visa"],
    }),
  ),
  quantity: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description:
        "Seats, for a per-seat plan (within its min/max; its minimum when left out). Other plans: 1.",
      examples: [5],
    }),
  ),
  promotion_code: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: "A promotion code, checked at Stripe; an invalid one is a 400 on this field.",
      examples: ["LAUNCH20"],
    }),
  ),
});

export const Created = Type.Object({
  message: Type.String(),
  subscription: Subscription,
  client_secret: Type.Optional(
    Type.String({
      description:
        "Present when the first payment needs the customer (3-D Secure): confirm it with Stripe.js.",
    }),
  ),
});

/** The body may be left out (the route's `optionalBody`): a bare POST cancels at period end. */
export const CancelBody = Type.Object({
  cancel_immediately: Type.Boolean({
    default: false,
    description: "End the subscription now instead of at the end of the paid period.",
    examples: [false],
  }),
});

/** reactivate/ reads no body; one may be sent (JSON of any kind) and is ignored. */
export const IgnoredBody = Type.Unknown({ description: "Ignored." });

export const SubscriptionResult = Type.Object({
  message: Type.String(),
  subscription: Subscription,
});

export const Payment = Type.Object({
  id: Type.String({ format: "uuid" }),
  stripe_payment_intent_id: Nullable(Type.String({ examples: ["pi_3QfXc5LkdIwHu7ix0Vb1Lq2W"] })),
  stripe_invoice_id: Nullable(Type.String({ examples: ["in_1QfXc4LkdIwHu7ixS2cGk9Tn"] })),
  amount: Money,
  currency: Type.String({ examples: ["usd"] }),
  status: Type.String({ enum: ["succeeded", "failed", "pending", "refunded"] }),
  description: Type.String({ examples: ["Starter (subscription_create)"] }),
  quantity: Nullable(Type.Integer({ description: "The subscription line's quantity (seats)." })),
  unit_amount: Nullable(Money),
  discount_amount: Type.String({
    description: "What discounts took off this invoice, in major units.",
    examples: ["0.00"],
  }),
  promotion_code: Nullable(Type.String({ examples: ["LAUNCH20"] })),
  created_at: Time,
});

export const PaymentPage = Paginated(Payment);
