import type Stripe from "stripe";
import {
  arr,
  bool,
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

/** Events, webhook endpoints, Checkout and portal sessions, test clocks. */
export const otherDeclarations: Record<string, Shape> = {
  "GET /v1/events/:id": shape<Stripe.EventRetrieveParams>({}),
  "GET /v1/events": shape<Stripe.EventListParams>({
    ...pagination,
    created: range,
    type: str,
    types: arr(str),
  }),
  "POST /v1/webhook_endpoints": shape<Stripe.WebhookEndpointCreateParams>({
    api_version: str,
    description: emptyable(str),
    enabled_events: arr(str),
    metadata,
    url: str,
  }),
  "GET /v1/webhook_endpoints/:id": shape<Stripe.WebhookEndpointRetrieveParams>({}),
  "POST /v1/webhook_endpoints/:id": shape<Stripe.WebhookEndpointUpdateParams>({
    description: emptyable(str),
    disabled: bool,
    enabled_events: arr(str),
    metadata,
    url: str,
  }),
  "GET /v1/webhook_endpoints": shape<Stripe.WebhookEndpointListParams>({ ...pagination }),
  "DELETE /v1/webhook_endpoints/:id": shape<Stripe.WebhookEndpointDeleteParams>({}),
  "POST /v1/checkout/sessions": shape<Stripe.Checkout.SessionCreateParams>({
    allow_promotion_codes: bool,
    cancel_url: str,
    client_reference_id: str,
    currency: str,
    customer: str,
    customer_creation: oneOf<Stripe.Checkout.SessionCreateParams.CustomerCreation>(
      "always",
      "if_required",
    ),
    customer_email: str,
    line_items: arr(
      obj<Stripe.Checkout.SessionCreateParams.LineItem>({ price: str, quantity: int }),
    ),
    metadata,
    mode: oneOf<Stripe.Checkout.SessionCreateParams.Mode>("payment", "setup", "subscription"),
    setup_intent_data: obj<Stripe.Checkout.SessionCreateParams.SetupIntentData>({
      description: str,
      metadata,
    }),
    subscription_data: obj<Stripe.Checkout.SessionCreateParams.SubscriptionData>({
      metadata,
      trial_period_days: int,
    }),
    success_url: str,
  }),
  "GET /v1/checkout/sessions/:id": shape<Stripe.Checkout.SessionRetrieveParams>({}),
  "GET /v1/checkout/sessions": shape<Stripe.Checkout.SessionListParams>({
    ...pagination,
    created: range,
    customer: str,
    customer_details: obj<Stripe.Checkout.SessionListParams.CustomerDetails>({ email: str }),
    payment_intent: str,
    status: oneOf<Stripe.Checkout.SessionListParams.Status>("complete", "expired", "open"),
    subscription: str,
  }),
  "POST /v1/billing_portal/sessions": shape<Stripe.BillingPortal.SessionCreateParams>({
    customer: str,
    return_url: str,
  }),
  "POST /v1/test_helpers/test_clocks": shape<Stripe.TestHelpers.TestClockCreateParams>({
    frozen_time: int,
    name: str,
  }),
  "GET /v1/test_helpers/test_clocks/:id": shape<Stripe.TestHelpers.TestClockRetrieveParams>({}),
  "GET /v1/test_helpers/test_clocks": shape<Stripe.TestHelpers.TestClockListParams>({
    ...pagination,
  }),
  "DELETE /v1/test_helpers/test_clocks/:id": shape<Stripe.TestHelpers.TestClockDeleteParams>({}),
  "POST /v1/test_helpers/test_clocks/:id/advance": shape<Stripe.TestHelpers.TestClockAdvanceParams>(
    { frozen_time: int },
  ),
};
