import Stripe from "stripe";
import { newId } from "../ids.ts";

export interface LineSeed {
  price: Stripe.Price;
  quantity: number;
  amount: number;
  period: { start: number; end: number };
  subscription: string;
  subscriptionItem: string;
  proration: boolean;
  description: string;
  /** The invoice item a proration is kept as until an invoice takes it. */
  invoiceItem?: string;
  /**
   * A one-off invoice item (`invoiceItems.create`), not a subscription item's line: its line's
   * parent is `invoice_item_details`; `subscription`/`subscriptionItem` are "" when it has none.
   */
  standalone?: boolean;
  /**
   * The discounts a proration's `amount` is already net of (billing mode flexible,
   * `proration_discounts: included`): Stripe names them with discount amounts of 0.
   */
  prorationDiscounts?: string[];
}

function includedDiscounts(seed: LineSeed): { amount: number; discount: string }[] {
  return (seed.prorationDiscounts ?? []).map((discount) => ({ amount: 0, discount }));
}

function lineParent(seed: LineSeed): Stripe.InvoiceLineItem.Parent {
  if (seed.standalone) {
    return {
      type: "invoice_item_details",
      invoice_item_details: {
        invoice_item: seed.invoiceItem ?? "",
        proration: seed.proration,
        proration_details: { credited_items: null },
        subscription: seed.subscription || null,
      },
      subscription_item_details: null,
    };
  }
  return {
    type: "subscription_item_details",
    invoice_item_details: null,
    subscription_item_details: {
      invoice_item: seed.invoiceItem ?? null,
      proration: seed.proration,
      proration_details: { credited_items: null },
      subscription: seed.subscription,
      subscription_item: seed.subscriptionItem,
    },
  };
}

export function buildLine(invoice: string, seed: LineSeed): Stripe.InvoiceLineItem {
  const product =
    typeof seed.price.product === "string" ? seed.price.product : seed.price.product.id;
  return {
    id: newId("il"),
    object: "line_item",
    amount: seed.amount,
    currency: seed.price.currency,
    description: seed.description,
    discount_amounts: includedDiscounts(seed),
    // Stripe sends proration lines as not discountable.
    discountable: !seed.proration,
    discounts: seed.prorationDiscounts ?? [],
    invoice,
    livemode: false,
    metadata: {},
    parent: lineParent(seed),
    period: seed.period,
    pretax_credit_amounts: [],
    pricing: {
      type: "price_details",
      price_details: { price: seed.price.id, product },
      unit_amount_decimal: seed.price.unit_amount_decimal,
    },
    quantity: seed.quantity,
    quantity_decimal: Stripe.Decimal.from(seed.quantity),
    subscription: seed.subscription || null,
    subtotal: seed.amount,
    taxes: [],
  };
}

export function buildInvoiceItem(
  seed: LineSeed,
  customer: string,
  date: number,
  testClock: string | null,
): Stripe.InvoiceItem {
  const product =
    typeof seed.price.product === "string" ? seed.price.product : seed.price.product.id;
  return {
    id: newId("ii"),
    object: "invoiceitem",
    amount: seed.amount,
    currency: seed.price.currency,
    customer,
    customer_account: null,
    date,
    description: seed.description,
    discountable: false,
    discounts: seed.prorationDiscounts ?? [],
    invoice: null,
    livemode: false,
    metadata: {},
    net_amount: seed.amount,
    parent: {
      type: "subscription_details",
      subscription_details: {
        subscription: seed.subscription,
        subscription_item: seed.subscriptionItem,
      },
    },
    period: seed.period,
    pricing: {
      type: "price_details",
      price_details: { price: seed.price.id, product },
      unit_amount_decimal: seed.price.unit_amount_decimal,
    },
    proration: seed.proration,
    proration_details: { credited_items: null, discount_amounts: includedDiscounts(seed) },
    quantity: seed.quantity,
    quantity_decimal: Stripe.Decimal.from(seed.quantity),
    tax_rates: [],
    test_clock: testClock,
  };
}

export interface InvoiceSeed {
  customer: Stripe.Customer;
  subscription: Stripe.Subscription;
  billingReason: Stripe.Invoice.BillingReason;
  created: number;
  period: { start: number; end: number };
}

export function buildInvoice(seed: InvoiceSeed, lineSeeds: LineSeed[]): Stripe.Invoice {
  const id = newId("in");
  const lines = lineSeeds.map((l) => buildLine(id, l));
  const total = lines.reduce((sum, l) => sum + l.amount, 0);
  const sub = seed.subscription;
  return {
    id,
    object: "invoice",
    account_country: "US",
    account_name: "Stripe Emulator",
    account_tax_ids: null,
    amount_due: Math.max(0, total),
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: Math.max(0, total),
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: {
      disabled_reason: null,
      enabled: false,
      liability: null,
      provider: null,
      status: null,
    },
    automatically_finalizes_at: null,
    billing_reason: seed.billingReason,
    collection_method: "charge_automatically",
    created: seed.created,
    currency: sub.currency,
    custom_fields: null,
    customer: seed.customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: seed.customer.email,
    customer_name: seed.customer.name ?? null,
    customer_phone: seed.customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: "list", data: lines, has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: {
      type: "subscription_details",
      quote_details: null,
      subscription_details: { metadata: { ...sub.metadata }, subscription: sub.id },
    },
    payment_settings: {
      default_mandate: null,
      payment_method_options: null,
      payment_method_types: null,
    },
    period_end: seed.period.end,
    period_start: seed.period.start,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: "draft",
    status_transitions: {
      finalized_at: null,
      marked_uncollectible_at: null,
      paid_at: null,
      voided_at: null,
    },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: typeof sub.test_clock === "string" ? sub.test_clock : null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
}

export function buildInvoicePayment(
  invoice: Stripe.Invoice,
  paymentIntent: string,
  created: number,
): Stripe.InvoicePayment {
  return {
    id: newId("inpay"),
    object: "invoice_payment",
    amount_paid: null,
    amount_requested: invoice.amount_due,
    created,
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: false,
    payment: { type: "payment_intent", payment_intent: paymentIntent },
    status: "open",
    status_transitions: { canceled_at: null, paid_at: null },
  };
}
