import type Stripe from "stripe";
import { email, emptyable, metadata, obj, pagination, type Shape, shape, str } from "./schema.ts";

const invoiceSettings = obj<Stripe.CustomerCreateParams.InvoiceSettings>({
  default_payment_method: emptyable(str),
});

/** Customers and their payment methods. */
export const customerDeclarations: Record<string, Shape> = {
  "POST /v1/customers": shape<Stripe.CustomerCreateParams>({
    description: str,
    email,
    invoice_settings: invoiceSettings,
    metadata,
    name: str,
    payment_method: str,
    phone: str,
    test_clock: str,
  }),
  "GET /v1/customers/:id": shape<Stripe.CustomerRetrieveParams>({}),
  "POST /v1/customers/:id": shape<Stripe.CustomerUpdateParams>({
    description: str,
    email,
    invoice_settings: invoiceSettings,
    metadata,
    name: str,
    phone: str,
  }),
  "DELETE /v1/customers/:id": shape<Stripe.CustomerDeleteParams>({}),
  "GET /v1/customers": shape<Stripe.CustomerListParams>({
    ...pagination,
    email: str,
    test_clock: str,
  }),
  "GET /v1/customers/:id/payment_methods": shape<Stripe.CustomerListPaymentMethodsParams>({
    ...pagination,
    type: str,
  }),
  "GET /v1/payment_methods/:id": shape<Stripe.PaymentMethodRetrieveParams>({}),
  "POST /v1/payment_methods/:id/attach": shape<Stripe.PaymentMethodAttachParams>({
    customer: str,
  }),
  "POST /v1/payment_methods/:id/detach": shape<Stripe.PaymentMethodDetachParams>({}),
  "GET /v1/payment_methods": shape<Stripe.PaymentMethodListParams>({
    ...pagination,
    customer: str,
    type: str,
  }),
};
