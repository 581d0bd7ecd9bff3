import { Type } from "typebox";
import { Nullable } from "../platform/http/nullable.ts";
import { Paginated } from "../platform/http/pagination.ts";
import { Subscription } from "./billing-schemas.ts";

// Checkout, invoices and the card on file (docs/checkout-and-invoices.md).

const Money = Type.String({
  description: "Decimal string in major units with the currency's decimals.",
  examples: ["9.99"],
});
const Time = Type.String({ format: "date-time" });
const Currency = Type.String({ description: "Lowercase ISO 4217 code.", examples: ["usd"] });
const ReturnUrl = Type.String({
  format: "uri",
  maxLength: 2048,
  description:
    "Only a URL whose origin is FRONTEND_URL's or one of CORS_ALLOWED_ORIGINS; defaults to the web app's page.",
});

export const CheckoutBody = Type.Object(
  {
    plan_id: Type.String({ format: "uuid", description: "A plan's `id` from `plans/`." }),
    quantity: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        description: "Seats, for a plan billed per seat (within its min and max); else 1.",
      }),
    ),
    allow_promotion_codes: Type.Optional(
      Type.Boolean({ description: "Let the customer enter a promotion code on Stripe's page." }),
    ),
    success_url: Type.Optional(ReturnUrl),
    cancel_url: Type.Optional(ReturnUrl),
  },
  {
    examples: [{ plan_id: "5d0b8a52-3c1e-4f7a-9b2d-6e8f1a4c7b39", quantity: 1 }],
  },
);

export const CheckoutSession = Type.Object(
  {
    url: Type.String({ format: "uri", description: "Send the customer's browser here." }),
    session_id: Type.String({ examples: ["cs_test_a1B2c3D4e5F6"] }),
    expires_at: Time,
  },
  {
    examples: [
      {
        url: "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6",
        session_id: "cs_test_a1B2c3D4e5F6",
        expires_at: "2026-12-08T04:00:00.000Z",
      },
    ],
  },
);

const InvoiceLine = Type.Object({
  description: Nullable(Type.String({ examples: ["1 × Starter (at $9.99 / month)"] })),
  amount: Money,
  quantity: Nullable(Type.Integer()),
  period_start: Nullable(Time),
  period_end: Nullable(Time),
});

export const Invoice = Type.Object(
  {
    id: Type.String({ description: "Stripe's invoice id.", examples: ["in_1QfXc4LkdIwHu7ix"] }),
    number: Nullable(Type.String({ examples: ["A1B2C3D4-0001"] })),
    status: Type.String({
      description: "Stripe's: open, paid, uncollectible, void (drafts are not listed).",
      examples: ["paid"],
    }),
    billing_reason: Nullable(Type.String({ examples: ["subscription_create"] })),
    total: Money,
    amount_due: Money,
    amount_paid: Money,
    amount_remaining: Money,
    currency: Currency,
    period_start: Nullable(Time),
    period_end: Nullable(Time),
    lines: Type.Array(InvoiceLine),
    hosted_invoice_url: Nullable(Type.String({ format: "uri" })),
    invoice_pdf: Nullable(Type.String({ format: "uri" })),
    created_at: Time,
  },
  {
    examples: [
      {
        id: "in_1QfXc4LkdIwHu7ix",
        number: "A1B2C3D4-0001",
        status: "paid",
        billing_reason: "subscription_create",
        total: "9.99",
        amount_due: "9.99",
        amount_paid: "9.99",
        amount_remaining: "0.00",
        currency: "usd",
        period_start: "2026-12-07T04:00:00.000Z",
        period_end: "2027-01-07T04:00:00.000Z",
        lines: [
          {
            description: "1 × Starter (at $9.99 / month)",
            amount: "9.99",
            quantity: 1,
            period_start: "2026-12-07T04:00:00.000Z",
            period_end: "2027-01-07T04:00:00.000Z",
          },
        ],
        hosted_invoice_url: "https://invoice.stripe.com/i/acct_1/test_x",
        invoice_pdf: "https://pay.stripe.com/invoice/acct_1/test_x/pdf",
        created_at: "2026-12-07T04:00:00.000Z",
      },
    ],
  },
);

export const InvoicePage = Paginated(Invoice);

export const InvoiceParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 255, description: "Stripe's invoice id (`in_…`)." }),
});

export const UpcomingInvoice = Type.Object(
  {
    amount_due: Money,
    total: Money,
    currency: Currency,
    period_start: Nullable(Time),
    period_end: Nullable(Time),
    next_payment_attempt: Nullable(Time),
    lines: Type.Array(InvoiceLine),
  },
  {
    examples: [
      {
        amount_due: "9.99",
        total: "9.99",
        currency: "usd",
        period_start: "2027-01-07T04:00:00.000Z",
        period_end: "2027-02-07T04:00:00.000Z",
        next_payment_attempt: "2027-01-07T05:00:00.000Z",
        lines: [],
      },
    ],
  },
);

export const Card = Type.Object({
  id: Type.String({ examples: ["pm_1QfXc4LkdIwHu7ix"] }),
  brand: Type.String({ examples: ["visa"] }),
  last4: Type.String({ examples: ["4242"] }),
  exp_month: Type.Integer({ examples: [12] }),
  exp_year: Type.Integer({ examples: [2030] }),
});

export const PaymentMethodStatus = Type.Object({
  payment_method: Nullable(Card),
});

export const PaymentMethodBody = Type.Object(
  {
    payment_method_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          "A card to make the default (test: pm_card_visa). Left out: a SetupIntent is started and its `client_secret` answered, for Stripe.js to collect the card; then send the card it saved.",
      }),
    ),
  },
  { examples: [{ payment_method_id: "pm_card_visa" }, {}] },
);

export const PaymentMethodResult = Type.Object({
  message: Type.String(),
  payment_method: Nullable(Card),
  subscription: Nullable(Subscription),
  client_secret: Type.Optional(
    Type.String({
      description:
        "A SetupIntent's (no card given), or the retried invoice's when its payment needs 3-D Secure.",
    }),
  ),
  setup_intent_id: Type.Optional(Type.String({ examples: ["seti_1QfXc4LkdIwHu7ix"] })),
});

export const PortalBody = Type.Object(
  { return_url: Type.Optional(ReturnUrl) },
  { examples: [{ return_url: "https://app.example.com/billing" }, {}] },
);

export const PortalSession = Type.Object(
  { url: Type.String({ format: "uri", description: "Send the customer's browser here." }) },
  { examples: [{ url: "https://billing.stripe.com/p/session/test_YWNjdF8x" }] },
);
