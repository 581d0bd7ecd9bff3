/**
 * The fields each object type lets `expand` resolve: ids that can become their object
 * (`string | Stripe.X` in the SDK's types) and includable fields Stripe only returns when
 * expanded. A dotted entry names a field inside a nested object or list
 * (`invoice_settings.default_payment_method`, `items.data.price.product`). A path outside this
 * table is refused with Stripe's "This property cannot be expanded".
 */
export const EXPANDABLE: Readonly<Record<string, readonly string[]>> = {
  customer: [
    "default_source",
    "invoice_settings.default_payment_method",
    "subscriptions",
    "test_clock",
  ],
  payment_method: ["customer"],
  product: ["default_price"],
  price: ["product"],
  subscription: [
    "application",
    "customer",
    "default_payment_method",
    "default_source",
    "items.data.price.product",
    "latest_invoice",
    "pending_setup_intent",
    "schedule",
    "test_clock",
  ],
  subscription_item: ["price.product"],
  invoice: [
    "confirmation_secret",
    "customer",
    "default_payment_method",
    "default_source",
    "payments",
    "test_clock",
  ],
  invoice_payment: ["invoice", "payment.charge", "payment.payment_intent"],
  payment_intent: ["customer", "latest_charge", "payment_method"],
  charge: ["balance_transaction", "customer", "payment_intent"],
  refund: ["balance_transaction", "charge", "payment_intent"],
  "checkout.session": ["customer", "invoice", "payment_intent", "setup_intent", "subscription"],
  "billing_portal.session": ["configuration"],
};
