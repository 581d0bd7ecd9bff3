import { Type } from "typebox";
import { Nullable } from "../platform/http/nullable.ts";
import { Plan, Subscription } from "./billing-schemas.ts";

const PLAN_ID = "5d0b8a52-3c1e-4f7a-9b2d-6e8f1a4c7b39";
const Money = Type.String({
  description: "Decimal string in major units with the currency's decimals.",
  examples: ["10.00"],
});

const changeFields = {
  plan_id: Type.String({
    format: "uuid",
    description: "The plan to move to (the current one to change only the seats).",
    examples: [PLAN_ID],
  }),
  quantity: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description:
        "Seats on a per-seat plan, within its min/max. Left out: the current seats when the plan allows them, else its minimum; 1 on other plans.",
      examples: [5],
    }),
  ),
  when: Type.Optional(
    Type.Union([Type.Literal("now"), Type.Literal("period_end")], {
      description:
        'Default: "now" for an upgrade or more seats (the proration is charged at once), "period_end" for a downgrade or fewer seats (the customer keeps what they paid for). "now" on a downgrade credits the unused time to the customer balance.',
    }),
  ),
};

export const PreviewQuery = Type.Object(changeFields);

export const ChangeBody = Type.Object({
  ...changeFields,
  promotion_code: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        "A promotion code for the new plan, checked at Stripe (a 400 on this field when it does not apply). On a scheduled change it starts with the new plan.",
      examples: ["LAUNCH20"],
    }),
  ),
});

export const Preview = Type.Object({
  plan: Plan,
  quantity: Type.Integer({ minimum: 1 }),
  effective: Type.String({ enum: ["now", "period_end"] }),
  effective_at: Type.String({ format: "date-time" }),
  currency: Type.String({ examples: ["usd"] }),
  amount_due_now: Type.String({
    description: "Charged at once (0 for a scheduled change, or when a credit covers it).",
    examples: ["10.00"],
  }),
  lines: Type.Array(
    Type.Object({
      description: Type.String({ examples: ["Remaining time on Pro after 07 Jan 2027"] }),
      amount: Type.String({ description: "Negative for a credit.", examples: ["19.35"] }),
      proration: Type.Boolean(),
    }),
    { description: "The lines of what is charged now: the prorations." },
  ),
  next_invoice: Type.Object({
    amount: Money,
    date: Nullable(Type.String({ format: "date-time" })),
  }),
});

export const ChangeResult = Type.Object({
  message: Type.String({ examples: ["Plan changed."] }),
  status: Type.String({
    enum: ["changed", "scheduled", "requires_action"],
    description:
      "`changed`: in effect now; `scheduled`: at `subscription.pending_change.effective_at`; `requires_action`: the proration payment needs 3-D Secure (confirm `client_secret` with Stripe.js; the old plan stays until then).",
  }),
  subscription: Subscription,
  client_secret: Type.Optional(Type.String()),
});

export const ChangeCanceled = Type.Object({
  message: Type.String({ examples: ["Scheduled change canceled."] }),
  subscription: Subscription,
});
