import type Stripe from "stripe";
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
  type Shape,
  shape,
  str,
} from "./schema.ts";

/** The subscription parameters a preview can try, as `subscriptions.update` takes them. */
const subscriptionDetails = obj<Stripe.InvoiceCreatePreviewParams.SubscriptionDetails>({
  billing_cycle_anchor:
    obj<Stripe.InvoiceCreatePreviewParams.SubscriptionDetails.BillingCycleAnchor>({
      type: oneOf<Stripe.InvoiceCreatePreviewParams.SubscriptionDetails.BillingCycleAnchor.Type>(
        "now",
        "unchanged",
      ),
    }),
  cancel_at: emptyable(
    either(
      oneOf<Stripe.InvoiceCreatePreviewParams.SubscriptionDetails.CancelAt>(
        "max_period_end",
        "min_period_end",
      ),
      int,
    ),
  ),
  cancel_at_period_end: bool,
  items: arr(
    obj<Stripe.InvoiceCreatePreviewParams.SubscriptionDetails.Item>({
      deleted: bool,
      id: str,
      price: str,
      quantity: int,
    }),
  ),
  proration_behavior:
    oneOf<Stripe.InvoiceCreatePreviewParams.SubscriptionDetails.ProrationBehavior>(
      "always_invoice",
      "create_prorations",
      "none",
    ),
  proration_date: int,
  trial_end: either(oneOf("now"), int),
});

/** The subscription-item endpoints take the same behaviours (their SDK types are one union). */
const itemPaymentBehavior = oneOf<Stripe.SubscriptionItemUpdateParams.PaymentBehavior>(
  "allow_incomplete",
  "default_incomplete",
  "error_if_incomplete",
  "pending_if_incomplete",
);
const itemProration = oneOf<Stripe.SubscriptionItemUpdateParams.ProrationBehavior>(
  "always_invoice",
  "create_prorations",
  "none",
);

/**
 * Plan-change surfaces: invoice previews, subscription items, one-off invoice items and
 * resuming a paused subscription.
 */
export const changeDeclarations: Record<string, Shape> = {
  "POST /v1/invoices/create_preview": shape<Stripe.InvoiceCreatePreviewParams>({
    customer: str,
    subscription: str,
    subscription_details: subscriptionDetails,
  }),
  "GET /v1/subscription_items": shape<Stripe.SubscriptionItemListParams>({
    ...pagination,
    subscription: str,
  }),
  "POST /v1/subscription_items/:id": shape<Stripe.SubscriptionItemUpdateParams>({
    payment_behavior: itemPaymentBehavior,
    price: str,
    proration_behavior: itemProration,
    proration_date: int,
    quantity: int,
  }),
  "POST /v1/subscription_items": shape<Stripe.SubscriptionItemCreateParams>({
    payment_behavior: itemPaymentBehavior,
    price: str,
    proration_behavior: itemProration,
    proration_date: int,
    quantity: int,
    subscription: str,
  }),
  "DELETE /v1/subscription_items/:id": shape<Stripe.SubscriptionItemDeleteParams>({
    payment_behavior: itemPaymentBehavior,
    proration_behavior: itemProration,
    proration_date: int,
  }),
  "POST /v1/invoiceitems": shape<Stripe.InvoiceItemCreateParams>({
    amount: int,
    currency: str,
    customer: str,
    description: str,
    metadata,
    pricing: obj<Stripe.InvoiceItemCreateParams.Pricing>({ price: str }),
    quantity: int,
    subscription: str,
  }),
  "POST /v1/invoiceitems/:id": shape<Stripe.InvoiceItemUpdateParams>({
    amount: int,
    description: str,
    metadata,
    quantity: int,
  }),
  "DELETE /v1/invoiceitems/:id": shape<Stripe.InvoiceItemDeleteParams>({}),
  "POST /v1/subscriptions/:id/resume": shape<Stripe.SubscriptionResumeParams>({
    // Only a new cycle from now is emulated; `unchanged` is refused rather than ignored.
    billing_cycle_anchor: obj<Stripe.SubscriptionResumeParams.BillingCycleAnchor>({
      type: oneOf<Stripe.SubscriptionResumeParams.BillingCycleAnchor.Type>("now"),
    }),
  }),
};
