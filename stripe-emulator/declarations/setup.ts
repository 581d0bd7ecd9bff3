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

const automaticPaymentMethods = obj<Stripe.SetupIntentCreateParams.AutomaticPaymentMethods>({
  allow_redirects: oneOf<Stripe.SetupIntentCreateParams.AutomaticPaymentMethods.AllowRedirects>(
    "always",
    "never",
  ),
  enabled: bool,
});

const billingDetails = obj<Stripe.PaymentMethodCreateParams.BillingDetails>({
  address: emptyable(
    obj<Stripe.AddressParam>({
      city: str,
      country: str,
      line1: str,
      line2: str,
      postal_code: str,
      state: str,
    }),
  ),
  email: emptyable(str),
  name: emptyable(str),
  phone: emptyable(str),
});

const allowRedisplay = oneOf<Stripe.PaymentMethodCreateParams.AllowRedisplay>(
  "always",
  "limited",
  "unspecified",
);

/** SetupIntents, creating and updating payment methods, listing and updating charges. */
export const setupDeclarations: Record<string, Shape> = {
  "POST /v1/setup_intents": shape<Stripe.SetupIntentCreateParams>({
    allowed_payment_method_types: arr(str),
    automatic_payment_methods: automaticPaymentMethods,
    confirm: bool,
    customer: str,
    description: str,
    metadata,
    payment_method: str,
    return_url: str,
    usage: oneOf<Stripe.SetupIntentCreateParams.Usage>("off_session", "on_session"),
    use_stripe_sdk: bool,
  }),
  "GET /v1/setup_intents/:id": shape<Stripe.SetupIntentRetrieveParams>({ client_secret: str }),
  "POST /v1/setup_intents/:id": shape<Stripe.SetupIntentUpdateParams>({
    customer: str,
    description: str,
    metadata,
    payment_method: str,
  }),
  "GET /v1/setup_intents": shape<Stripe.SetupIntentListParams>({
    ...pagination,
    created: range,
    customer: str,
    payment_method: str,
  }),
  "POST /v1/setup_intents/:id/confirm": shape<Stripe.SetupIntentConfirmParams>({
    payment_method: str,
    return_url: str,
    use_stripe_sdk: bool,
  }),
  "POST /v1/setup_intents/:id/cancel": shape<Stripe.SetupIntentCancelParams>({
    cancellation_reason: oneOf<Stripe.SetupIntentCancelParams.CancellationReason>(
      "abandoned",
      "duplicate",
      "requested_by_customer",
    ),
  }),
  "GET /v1/setup_attempts": shape<Stripe.SetupAttemptListParams>({
    ...pagination,
    created: range,
    setup_intent: str,
  }),
  "POST /v1/payment_methods": shape<Stripe.PaymentMethodCreateParams>({
    allow_redisplay: allowRedisplay,
    billing_details: billingDetails,
    card: obj<Stripe.PaymentMethodCreateParams.Card>({
      cvc: str,
      exp_month: int,
      exp_year: int,
      number: str,
      token: str,
    }),
    metadata,
    type: str,
  }),
  "POST /v1/payment_methods/:id": shape<Stripe.PaymentMethodUpdateParams>({
    allow_redisplay: allowRedisplay,
    billing_details: billingDetails,
    card: obj<Stripe.PaymentMethodUpdateParams.Card>({ exp_month: int, exp_year: int }),
    metadata,
  }),
  "GET /v1/charges": shape<Stripe.ChargeListParams>({
    ...pagination,
    created: range,
    customer: str,
    payment_intent: str,
  }),
  "POST /v1/charges/:id": shape<Stripe.ChargeUpdateParams>({ description: str, metadata }),
  "GET /v1/checkout/sessions/:id/line_items": shape<Stripe.Checkout.SessionListLineItemsParams>({
    ...pagination,
  }),
  "POST /v1/checkout/sessions/:id/expire": shape<Stripe.Checkout.SessionExpireParams>({}),
};
