import type Stripe from "stripe";
import { buildInvoiceItem, type LineSeed } from "../builders/invoice.ts";
import type { Ctx } from "../context.ts";
import { noSuchObject } from "../errors.ts";
import { optBool, optStr, type Params } from "../params.ts";

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
