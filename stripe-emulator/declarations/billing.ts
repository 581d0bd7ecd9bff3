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

const paymentBehavior = oneOf<Stripe.SubscriptionCreateParams.PaymentBehavior>(
  "allow_incomplete",
  "default_incomplete",
  "error_if_incomplete",
  "pending_if_incomplete",
);

const feedback = oneOf<Stripe.SubscriptionCancelParams.CancellationDetails.Feedback>(
  "customer_service",
  "low_quality",
  "missing_features",
  "other",
  "switched_service",
  "too_complex",
  "too_expensive",
  "unused",
);

const cancellationDetails = obj<Stripe.SubscriptionCancelParams.CancellationDetails>({
  comment: emptyable(str),
  feedback: emptyable(feedback),
});

const trialEnd = either(oneOf("now"), int);

const missingPaymentMethod =
  oneOf<Stripe.SubscriptionCreateParams.TrialSettings.EndBehavior.MissingPaymentMethod>(
    "cancel",
    "create_invoice",
    "pause",
  );

/** Subscriptions, subscription items, invoices and their payments, payment intents, charges, refunds. */
export const billingDeclarations: Record<string, Shape> = {
  "POST /v1/subscriptions": shape<Stripe.SubscriptionCreateParams>({
    cancel_at_period_end: bool,
    customer: str,
    default_payment_method: str,
    discounts: discountsParam,
    items: arr(obj<Stripe.SubscriptionCreateParams.Item>({ price: str, quantity: int })),
    metadata,
    payment_behavior: paymentBehavior,
    payment_settings: obj<Stripe.SubscriptionCreateParams.PaymentSettings>({
      save_default_payment_method:
        oneOf<Stripe.SubscriptionCreateParams.PaymentSettings.SaveDefaultPaymentMethod>(
          "off",
          "on_subscription",
        ),
    }),
    trial_end: trialEnd,
    trial_period_days: int,
    trial_settings: obj<Stripe.SubscriptionCreateParams.TrialSettings>({
      end_behavior: obj<Stripe.SubscriptionCreateParams.TrialSettings.EndBehavior>({
        missing_payment_method: missingPaymentMethod,
      }),
    }),
  }),
  "GET /v1/subscriptions/:id": shape<Stripe.SubscriptionRetrieveParams>({}),
  "POST /v1/subscriptions/:id": shape<Stripe.SubscriptionUpdateParams>({
    cancel_at: emptyable(
      either(
        oneOf<Stripe.SubscriptionUpdateParams.CancelAt>(
          "max_billed_until",
          "max_period_end",
          "min_period_end",
        ),
        int,
      ),
    ),
    cancel_at_period_end: bool,
    default_payment_method: emptyable(str),
    discounts: discountsParam,
    description: emptyable(str),
    items: arr(
      obj<Stripe.SubscriptionUpdateParams.Item>({
        deleted: bool,
        id: str,
        price: str,
        quantity: int,
      }),
    ),
    metadata,
    billing_cycle_anchor: obj<Stripe.SubscriptionUpdateParams.BillingCycleAnchor>({
      type: oneOf<Stripe.SubscriptionUpdateParams.BillingCycleAnchor.Type>("now", "unchanged"),
    }),
    payment_behavior: paymentBehavior,
    proration_behavior: oneOf<Stripe.SubscriptionUpdateParams.ProrationBehavior>(
      "always_invoice",
      "create_prorations",
      "none",
    ),
    proration_date: int,
    trial_end: trialEnd,
    trial_settings: obj<Stripe.SubscriptionUpdateParams.TrialSettings>({
      end_behavior: obj<Stripe.SubscriptionUpdateParams.TrialSettings.EndBehavior>({
        missing_payment_method: missingPaymentMethod,
      }),
    }),
  }),
  "DELETE /v1/subscriptions/:id": shape<Stripe.SubscriptionCancelParams>({
    cancellation_details: cancellationDetails,
  }),
  "GET /v1/subscriptions": shape<Stripe.SubscriptionListParams>({
    ...pagination,
    customer: str,
    price: str,
    status: oneOf<Stripe.SubscriptionListParams.Status>(
      "active",
      "all",
      "canceled",
      "ended",
      "incomplete",
      "incomplete_expired",
      "past_due",
      "paused",
      "trialing",
      "unpaid",
    ),
    test_clock: str,
  }),
  "GET /v1/subscription_items/:id": shape<Stripe.SubscriptionItemRetrieveParams>({}),
  "GET /v1/invoices/:id": shape<Stripe.InvoiceRetrieveParams>({}),
  "GET /v1/invoices": shape<Stripe.InvoiceListParams>({
    ...pagination,
    created: range,
    customer: str,
    status: oneOf<Stripe.InvoiceListParams.Status>(
      "draft",
      "open",
      "paid",
      "uncollectible",
      "void",
    ),
    subscription: str,
  }),
  "GET /v1/invoices/:id/lines": shape<Stripe.InvoiceListLineItemsParams>({ ...pagination }),
  "POST /v1/invoices/:id/pay": shape<Stripe.InvoicePayParams>({
    off_session: bool,
    paid_out_of_band: bool,
    payment_method: str,
  }),
  "POST /v1/invoices/:id/finalize": shape<Stripe.InvoiceFinalizeInvoiceParams>({}),
  "POST /v1/invoices/:id/void": shape<Stripe.InvoiceVoidInvoiceParams>({}),
  "POST /v1/invoices/:id/mark_uncollectible": shape<Stripe.InvoiceMarkUncollectibleParams>({}),
  "GET /v1/invoice_payments/:id": shape<Stripe.InvoicePaymentRetrieveParams>({}),
  "GET /v1/invoice_payments": shape<Stripe.InvoicePaymentListParams>({
    ...pagination,
    invoice: str,
    payment: obj<Stripe.InvoicePaymentListParams.Payment>({
      payment_intent: str,
      type: oneOf<Stripe.InvoicePaymentListParams.Payment.Type>("payment_intent", "payment_record"),
    }),
    status: oneOf<Stripe.InvoicePaymentListParams.Status>("canceled", "open", "paid"),
  }),
  "GET /v1/payment_intents/:id": shape<Stripe.PaymentIntentRetrieveParams>({}),
  "POST /v1/payment_intents/:id/confirm": shape<Stripe.PaymentIntentConfirmParams>({
    payment_method: str,
  }),
  "GET /v1/payment_intents": shape<Stripe.PaymentIntentListParams>({
    ...pagination,
    customer: str,
  }),
  "GET /v1/charges/:id": shape<Stripe.ChargeRetrieveParams>({}),
  "POST /v1/refunds": shape<Stripe.RefundCreateParams>({
    amount: int,
    charge: str,
    metadata,
    payment_intent: str,
    reason: oneOf<Stripe.RefundCreateParams.Reason>(
      "duplicate",
      "fraudulent",
      "requested_by_customer",
    ),
  }),
  "GET /v1/refunds/:id": shape<Stripe.RefundRetrieveParams>({}),
  "GET /v1/refunds": shape<Stripe.RefundListParams>({
    ...pagination,
    charge: str,
    payment_intent: str,
  }),
};
