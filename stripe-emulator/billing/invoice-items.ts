import Stripe from "stripe";
import { buildInvoiceItem, type LineSeed } from "../builders/invoice.ts";
import { type Ctx, testClockOf } from "../context.ts";
import { invalidParam, invalidRequest, noSuchObject } from "../errors.ts";
import { newId } from "../ids.ts";
import {
  mergeMetadata,
  optBool,
  optInt,
  optNullableStr,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { getPrice } from "../resources/catalog.ts";

/**
 * Stripe keeps each proration as an invoice item (`invoiceitem.created`), pending until the next
 * invoice of the subscription takes it. The seeds are tagged with their item's id.
 */
export function recordProrationItems(ctx: Ctx, sub: Stripe.Subscription, lines: LineSeed[]): void {
  const customer = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const testClock = typeof sub.test_clock === "string" ? sub.test_clock : null;
  for (const line of lines) {
    const item = buildInvoiceItem(line, customer, ctx.now(customer), testClock);
    ctx.state.invoiceItems[item.id] = item;
    line.invoiceItem = item.id;
    ctx.emit("invoiceitem.created", item, { customerId: customer });
  }
}

/** The invoice now holds these items: they are no longer pending. */
export function claimInvoiceItems(ctx: Ctx, lines: LineSeed[], invoiceId: string): void {
  for (const line of lines) {
    const item = line.invoiceItem ? ctx.state.invoiceItems[line.invoiceItem] : undefined;
    if (item) item.invoice = invoiceId;
  }
}

/** `GET /v1/invoiceitems`: by `customer`, `invoice`, and `pending` (not yet on an invoice). */
export function listInvoiceItems(ctx: Ctx, p: Params): Stripe.InvoiceItem[] {
  const customer = optStr(p, "customer");
  const invoice = optStr(p, "invoice");
  const pending = optBool(p, "pending");
  return Object.values(ctx.state.invoiceItems).filter(
    (ii) =>
      (customer === undefined || ii.customer === customer) &&
      (invoice === undefined || ii.invoice === invoice) &&
      (pending === undefined || (ii.invoice === null) === pending),
  );
}

export function getInvoiceItem(ctx: Ctx, id: string): Stripe.InvoiceItem {
  const item = ctx.state.invoiceItems[id];
  if (!item) throw noSuchObject(id);
  return item;
}

function subscriptionOfItem(item: Stripe.InvoiceItem): string | null {
  return item.parent?.subscription_details?.subscription ?? null;
}

/**
 * The pending one-off items (`invoiceItems.create`, not prorations, which the subscription keeps
 * with its pending lines) that the next invoice of `sub` takes: the customer's items without a
 * subscription, and those created for this subscription.
 */
export function pendingItemSeeds(ctx: Ctx, sub: Stripe.Subscription): LineSeed[] {
  const customer = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  return Object.values(ctx.state.invoiceItems)
    .filter((ii) => ii.invoice === null && !ii.proration && ii.customer === customer)
    .filter((ii) => {
      const owner = subscriptionOfItem(ii);
      return owner === null || owner === sub.id;
    })
    .sort((a, b) => a.date - b.date)
    .map((ii) => seedOf(ctx, ii));
}

function seedOf(ctx: Ctx, ii: Stripe.InvoiceItem): LineSeed {
  const priceId = ii.pricing?.price_details?.price;
  const price = getPrice(ctx, typeof priceId === "string" ? priceId : (priceId?.id ?? ""));
  return {
    price,
    quantity: ii.quantity,
    amount: ii.amount,
    period: ii.period,
    subscription: subscriptionOfItem(ii) ?? "",
    subscriptionItem: "",
    proration: false,
    description: ii.description ?? "",
    invoiceItem: ii.id,
    standalone: true,
  };
}

/**
 * An `amount` without a price: Stripe prices the item with a one-time price of its own (and a
 * product named after the description), which the item's `pricing` names.
 */
function inlinePrice(ctx: Ctx, amount: number, currency: string, name: string): Stripe.Price {
  const now = ctx.now();
  const product: Stripe.Product = {
    id: newId("prod"),
    object: "product",
    active: false,
    created: now,
    default_price: null,
    description: null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: {},
    name,
    package_dimensions: null,
    shippable: null,
    tax_code: null,
    tax_details: null,
    type: "service",
    unit_label: null,
    updated: now,
    url: null,
  };
  const price: Stripe.Price = {
    id: newId("price"),
    object: "price",
    active: false,
    billing_scheme: "per_unit",
    created: now,
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: null,
    metadata: {},
    nickname: null,
    product: product.id,
    recurring: null,
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: "one_time",
    unit_amount: amount,
    unit_amount_decimal: Stripe.Decimal.from(amount),
  };
  ctx.state.products[product.id] = product;
  ctx.state.prices[price.id] = price;
  return price;
}

/** The price an item is billed at: `pricing[price]`, or an inline one for `amount`+`currency`. */
function priceOf(ctx: Ctx, customer: Stripe.Customer, p: Params): Stripe.Price {
  const priceId = optStr(optObj(p, "pricing") ?? {}, "price");
  const amount = optInt(p, "amount");
  if (priceId && amount !== undefined) {
    throw invalidRequest("You may only specify one of these parameters: amount, pricing[price].");
  }
  if (priceId) {
    const price = getPrice(ctx, priceId, "pricing[price]");
    if (price.type !== "one_time") {
      throw invalidParam(
        "pricing[price]",
        `The price \`${price.id}\` is a recurring price; an invoice item takes a one-time price.`,
      );
    }
    return price;
  }
  if (amount === undefined) {
    throw invalidRequest("You must specify either amount or pricing[price].", "amount");
  }
  const currency = (optStr(p, "currency") ?? customer.currency ?? "").toLowerCase();
  if (!currency) throw invalidRequest("Missing required param: currency.", "currency");
  return inlinePrice(ctx, amount, currency, optStr(p, "description") ?? "Invoice item");
}

/** `POST /v1/invoiceitems`: a pending item the customer's next invoice takes. */
export function createInvoiceItem(ctx: Ctx, p: Params): Stripe.InvoiceItem {
  const customerId = reqStr(p, "customer");
  // Read from state rather than through resources/customers.ts, which depends on billing.
  const customer = ctx.state.customers[customerId];
  if (!customer) throw noSuchObject(customerId, "customer");
  const subId = optStr(p, "subscription");
  const sub = subId ? ctx.state.subscriptions[subId] : undefined;
  if (subId && (!sub || sub.customer !== customer.id)) throw noSuchObject(subId, "subscription");
  const price = priceOf(ctx, customer, p);
  if (customer.currency && price.currency !== customer.currency) {
    throw invalidRequest(
      `The currency ${price.currency} does not match the customer's currency ${customer.currency}.`,
      "currency",
    );
  }
  const quantity = optInt(p, "quantity") ?? 1;
  const now = ctx.now(customer.id);
  const productName = ctx.state.products[String(price.product)]?.name ?? price.id;
  const seed: LineSeed = {
    price,
    quantity,
    amount: (price.unit_amount ?? 0) * quantity,
    period: { start: now, end: now },
    subscription: subId ?? "",
    subscriptionItem: "",
    proration: false,
    description: optStr(p, "description") ?? productName,
  };
  const item = buildInvoiceItem(seed, customer.id, now, testClockOf(ctx.state, customer.id));
  item.discountable = true;
  item.metadata = mergeMetadata({}, p);
  item.parent = subId
    ? { type: "subscription_details", subscription_details: { subscription: subId } }
    : null;
  ctx.state.invoiceItems[item.id] = item;
  ctx.emit("invoiceitem.created", item, { customerId: customer.id });
  return item;
}

function requirePending(item: Stripe.InvoiceItem, verb: string): void {
  if (item.invoice !== null) {
    throw invalidRequest(
      `You cannot ${verb} an invoice item that is already on an invoice (${String(item.invoice)}).`,
      undefined,
      "invoice_not_editable",
    );
  }
}

/** `POST /v1/invoiceitems/{id}`: only while pending. */
export function updateInvoiceItem(ctx: Ctx, item: Stripe.InvoiceItem, p: Params): void {
  requirePending(item, "update");
  const quantity = optInt(p, "quantity") ?? item.quantity;
  const amount = optInt(p, "amount");
  const description = optNullableStr(p, "description");
  if (description !== undefined) item.description = description;
  item.quantity = quantity;
  item.quantity_decimal = Stripe.Decimal.from(quantity);
  const unit = amount ?? ctx.state.prices[priceIdOf(item)]?.unit_amount ?? 0;
  item.amount = amount ?? unit * quantity;
  item.net_amount = item.amount;
  item.metadata = mergeMetadata(item.metadata ?? {}, p);
}

function priceIdOf(item: Stripe.InvoiceItem): string {
  const price = item.pricing?.price_details?.price;
  return typeof price === "string" ? price : (price?.id ?? "");
}

/** `DELETE /v1/invoiceitems/{id}`: only while pending; a proration leaves its subscription too. */
export function deleteInvoiceItem(ctx: Ctx, item: Stripe.InvoiceItem): Stripe.DeletedInvoiceItem {
  requirePending(item, "delete");
  delete ctx.state.invoiceItems[item.id];
  for (const [subId, lines] of Object.entries(ctx.state.pendingLines)) {
    ctx.state.pendingLines[subId] = lines.filter((l) => l.invoiceItem !== item.id);
  }
  ctx.emit("invoiceitem.deleted", item, { customerId: String(item.customer) });
  return { id: item.id, object: "invoiceitem", deleted: true };
}
