import { Type } from "typebox";
import { Nullable } from "../platform/http/nullable.ts";
import { Paginated } from "../platform/http/pagination.ts";

export {
  ErrorMessage,
  FieldErrors,
  Unauthorized,
} from "../accounts/accounts-schemas.ts";

const Money = Type.String({
  description:
    "Decimal string in major units with the currency's decimals: 9.99, 1000 (JPY), 1.250 (KWD).",
  examples: ["9.99"],
});
const Time = Type.String({ format: "date-time" });
const NullableTime = Nullable(Time);

export const Plan = Type.Object({
  id: Type.String({ format: "uuid" }),
  name: Type.String(),
  description: Type.String(),
  stripe_price_id: Type.String(),
  amount: Money,
  currency: Type.String({ description: "Lowercase ISO 4217 code." }),
  interval: Type.String({ enum: ["month", "year"] }),
  features: Type.Array(Type.String()),
});

export const PlanPage = Paginated(Plan);

const subscriptionFields = {
  id: Type.String({ format: "uuid" }),
  plan: Nullable(Plan),
  stripe_subscription_id: Type.String(),
  status: Type.String({
    description:
      "Stripe's status: active, trialing, past_due, incomplete, incomplete_expired, canceled, unpaid, paused.",
  }),
  is_active: Type.Boolean({ description: "True for active and trialing." }),
  current_period_start: NullableTime,
  current_period_end: NullableTime,
  cancel_at_period_end: Type.Boolean(),
  canceled_at: NullableTime,
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
  plan_id: Type.String({ format: "uuid" }),
  payment_method_id: Type.String({ minLength: 1, maxLength: 255 }),
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

export const CancelBody = Type.Object({
  cancel_immediately: Type.Boolean({ default: false }),
});

export const SubscriptionResult = Type.Object({
  message: Type.String(),
  subscription: Subscription,
});

export const Payment = Type.Object({
  id: Type.String({ format: "uuid" }),
  stripe_payment_intent_id: Nullable(Type.String()),
  stripe_invoice_id: Nullable(Type.String()),
  amount: Money,
  currency: Type.String(),
  status: Type.String({ enum: ["succeeded", "failed", "pending", "refunded"] }),
  description: Type.String(),
  created_at: Time,
});

export const PaymentPage = Paginated(Payment);
