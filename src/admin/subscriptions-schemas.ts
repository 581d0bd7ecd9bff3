import { Type } from "typebox";
import { Subscription } from "../billing/index.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { PageQuery, Paginated } from "../platform/http/pagination.ts";

const NullableTime = Nullable(Type.String({ format: "date-time" }));

export const StaffSubscription = Type.Object({
  ...Subscription.properties,
  user_id: Type.String({ format: "uuid" }),
  stripe_customer_id: Type.String({ examples: ["cus_QfXc2LkdIwHu7i"] }),
  trial_start: NullableTime,
  trial_end: NullableTime,
  ended_at: NullableTime,
});

export const StaffSubscriptionPage = Paginated(StaffSubscription);

export const SubscriptionQuery = Type.Object({
  ...PageQuery.properties,
  status: Type.Optional(
    Type.String({
      enum: [
        "active",
        "trialing",
        "past_due",
        "unpaid",
        "paused",
        "canceled",
        "incomplete",
        "incomplete_expired",
      ],
    }),
  ),
  plan: Type.Optional(Type.String({ format: "uuid", description: "A plan id." })),
  created_after: Type.Optional(
    Type.String({ format: "date-time", description: "Created (at Stripe) at or after." }),
  ),
  created_before: Type.Optional(
    Type.String({ format: "date-time", description: "Created (at Stripe) before." }),
  ),
});

export const SubscriptionParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 255,
    description: "Our subscription id (uuid) or Stripe's (`sub_…`).",
  }),
});

export const StaffCancelBody = Type.Object({
  at_period_end: Type.Boolean({
    default: true,
    description: "true: cancel at the end of the paid period (default); false: now.",
  }),
});

export const ExtendTrialBody = Type.Object(
  {
    days: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 730,
        description: "Days added to the current trial end.",
      }),
    ),
    trial_end: Type.Optional(
      Type.String({
        format: "date-time",
        description: "The new trial end (later than the current).",
      }),
    ),
  },
  { examples: [{ days: 14 }] },
);

export const FreePeriodBody = Type.Object({
  months: Type.Integer({
    minimum: 1,
    maximum: 36,
    description: "Free months from the next invoice.",
  }),
});

export const StaffChangeBody = Type.Object({
  plan_id: Type.String({ format: "uuid" }),
  quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  when: Type.Optional(
    Type.Union([Type.Literal("now"), Type.Literal("period_end")], {
      description: "Default: an upgrade now, a downgrade at the period end (the user's own rules).",
    }),
  ),
});

export const ChangeOutcome = Type.Object({
  status: Type.String({
    enum: ["changed", "scheduled", "requires_action"],
    description:
      "`requires_action`: the proration charge needs the customer's 3-D Secure; the old plan stays until they confirm it.",
  }),
  subscription: StaffSubscription,
});
