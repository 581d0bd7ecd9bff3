import { and, count, desc, eq, ne, type Placeholder, sql } from "drizzle-orm";
import { toSnakeCase } from "drizzle-orm/casing";
import Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { businessError } from "../platform/http/errors.ts";
import type { PageRequest } from "../platform/http/pagination.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { type InvoiceLineSummary, invoices } from "./hosted-tables.ts";
import { formatMinor } from "./money.ts";
import { customerIdOf, resolveUser } from "./owners.ts";
import { dbClock, RetryLater } from "./subscription-projection.ts";
import { currentSubscription } from "./subscription-queries.ts";

// The users' invoices (docs/checkout-and-invoices.md): a projection of Stripe's, written from the
// `invoice.*` events under the version marker, read by the invoices routes without Stripe.

export type InvoiceRow = typeof invoices.$inferSelect;

const iso = (d: Date | null) => d?.toISOString() ?? null;
const fromSeconds = (s: number | null | undefined) =>
  s === null || s === undefined ? null : new Date(s * 1000);

export interface InvoiceLineBody {
  description: string | null;
  amount: string;
  quantity: number | null;
  period_start: string | null;
  period_end: string | null;
}

export interface InvoiceBody {
  id: string;
  number: string | null;
  status: string;
  billing_reason: string | null;
  total: string;
  amount_due: string;
  amount_paid: string;
  amount_remaining: string;
  currency: string;
  period_start: string | null;
  period_end: string | null;
  lines: InvoiceLineBody[];
  hosted_invoice_url: string | null;
  invoice_pdf: string | null;
  created_at: string;
}

const lineBody = (line: InvoiceLineSummary, currency: string): InvoiceLineBody => ({
  ...line,
  amount: formatMinor(line.amount, currency),
});

export function invoiceBody(row: InvoiceRow): InvoiceBody {
  const money = (amount: number) => formatMinor(amount, row.currency);
  return {
    id: row.stripeInvoiceId,
    number: row.number,
    status: row.status,
    billing_reason: row.billingReason,
    total: money(row.total),
    amount_due: money(row.amountDue),
    amount_paid: money(row.amountPaid),
    amount_remaining: money(row.amountRemaining),
    currency: row.currency,
    period_start: iso(row.periodStart),
    period_end: iso(row.periodEnd),
    lines: row.lines.map((line) => lineBody(line, row.currency)),
    hosted_invoice_url: row.hostedInvoiceUrl,
    invoice_pdf: row.invoicePdf,
    created_at: row.stripeCreatedAt.toISOString(),
  };
}

function linesOf(inv: Stripe.Invoice): InvoiceLineSummary[] {
  return inv.lines.data.map((line) => ({
    description: line.description,
    amount: line.amount,
    quantity: line.quantity ?? null,
    period_start: iso(fromSeconds(line.period.start)),
    period_end: iso(fromSeconds(line.period.end)),
  }));
}

/**
 * The service period an invoice bills: its lines' (a subscription invoice's own `period_start` and
 * `period_end` are the previous period's, or both its creation for the first one).
 */
function periodOf(inv: Stripe.Invoice): { start: Date | null; end: Date | null } {
  const lines = inv.lines.data;
  if (lines.length === 0) {
    return { start: fromSeconds(inv.period_start), end: fromSeconds(inv.period_end) };
  }
  return {
    start: fromSeconds(Math.min(...lines.map((l) => l.period.start))),
    end: fromSeconds(Math.max(...lines.map((l) => l.period.end))),
  };
}

function subscriptionIdOf(inv: Stripe.Invoice): string | null {
  const sub = inv.parent?.subscription_details?.subscription;
  if (!sub) return null;
  return typeof sub === "string" ? sub : sub.id;
}

async function retrieveInvoice(stripe: Stripe, id: string): Promise<Stripe.Invoice | undefined> {
  try {
    return await stripe.invoices.retrieve(id);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === "resource_missing") {
      return undefined;
    }
    throw err;
  }
}

/**
 * Reads an invoice from Stripe and writes it for its owner, unless the stored row came from a
 * later read. Answers false for an invoice Stripe does not know (a deleted draft, a forged id);
 * throws RetryLater while its owner is not known.
 */
export async function syncInvoice(deps: BillingDeps, id: string): Promise<boolean> {
  const readAt = await dbClock(deps.db);
  const inv = await retrieveInvoice(deps.stripe, id);
  return inv ? await writeInvoice(deps, inv, readAt) : false;
}

/**
 * Writes an invoice already read from Stripe, `readAt` being the database clock taken before that
 * read (the version marker). Payment events use it with the invoice they read for the payment, so
 * one event reads the invoice once.
 */
export async function writeInvoice(
  deps: BillingDeps,
  inv: Stripe.Invoice,
  readAt: Date,
): Promise<boolean> {
  const customerId = customerIdOf(inv.customer);
  if (!inv.id || !customerId) return false;
  const user = await resolveUser(
    deps.db,
    customerId,
    inv.parent?.subscription_details?.metadata?.user_id,
  );
  if (!user) throw new RetryLater(`no user known yet for invoice ${inv.id}`);
  const period = periodOf(inv);
  const values = {
    userId: user.id,
    stripeInvoiceId: inv.id,
    stripeCustomerId: customerId,
    stripeSubscriptionId: subscriptionIdOf(inv),
    number: inv.number,
    status: inv.status ?? "draft",
    billingReason: inv.billing_reason,
    total: inv.total,
    amountDue: inv.amount_due,
    amountPaid: inv.amount_paid,
    amountRemaining: inv.amount_remaining,
    currency: inv.currency,
    periodStart: period.start,
    periodEnd: period.end,
    lines: linesOf(inv),
    hostedInvoiceUrl: inv.hosted_invoice_url ?? null,
    invoicePdf: inv.invoice_pdf ?? null,
    stripeCreatedAt: new Date(inv.created * 1000),
    stripeSyncedAt: readAt,
    updatedAt: new Date(),
  } satisfies typeof invoices.$inferInsert;
  const { stripeInvoiceId: _key, ...changes } = values;
  await deps.db
    .insert(invoices)
    .values(values)
    .onConflictDoUpdate({
      target: invoices.stripeInvoiceId,
      set: Object.fromEntries(
        Object.keys(changes).map((key) => [key, sql`excluded.${sql.identifier(toSnakeCase(key))}`]),
      ),
      setWhere: sql`${invoices.stripeSyncedAt} <= excluded.stripe_synced_at`,
    });
  return true;
}

/** Drafts are Stripe's work in progress: a user sees an invoice once it is finalized. */
const visible = (userId: string | Placeholder) =>
  and(eq(invoices.userId, userId), ne(invoices.status, "draft"));
const newestFirst = [desc(invoices.stripeCreatedAt), desc(invoices.id)];

/**
 * GET invoices/: the user's invoices, newest first. The page and the count in one prepared
 * statement, as the plans page reads them; the count alone only for a page past the end.
 */
export async function listInvoices(
  db: Executor,
  userId: string,
  page: PageRequest,
): Promise<{ count: number; invoices: InvoiceRow[] }> {
  const pageQuery = prepared(db, "invoices_page", (e) =>
    e
      .select({ invoice: invoices, total: sql<number>`count(*) over ()`.mapWith(Number) })
      .from(invoices)
      .where(visible(sql.placeholder("userId")))
      .orderBy(...newestFirst)
      .limit(sql.placeholder("limit"))
      .offset(sql.placeholder("offset"))
      .prepare("invoices_page"),
  );
  const rows = await pageQuery.execute({ userId, limit: page.limit, offset: page.offset });
  if (rows[0]) return { count: rows[0].total, invoices: rows.map((row) => row.invoice) };
  const countQuery = prepared(db, "invoices_count", (e) =>
    e
      .select({ n: count() })
      .from(invoices)
      .where(visible(sql.placeholder("userId")))
      .prepare("invoices_count"),
  );
  const [total] = await countQuery.execute({ userId });
  return { count: total?.n ?? 0, invoices: [] };
}

/** GET invoices/{id}/: one of the user's own invoices; anyone else's is a 404, as a missing one. */
export async function getInvoice(db: Executor, userId: string, id: string): Promise<InvoiceRow> {
  const [row] = await db
    .select()
    .from(invoices)
    .where(and(visible(userId), eq(invoices.stripeInvoiceId, id)));
  if (!row) throw businessError("not_found", "Invoice not found.");
  return row;
}

export interface UpcomingBody {
  amount_due: string;
  total: string;
  currency: string;
  period_start: string | null;
  period_end: string | null;
  next_payment_attempt: string | null;
  lines: InvoiceLineBody[];
}

const NO_UPCOMING = "No upcoming invoice.";

/**
 * GET invoices/upcoming/: Stripe's preview of the current subscription's next invoice. None (a
 * 404) without a live subscription, or for one that ends at its period end.
 */
export async function upcomingInvoice(deps: BillingDeps, userId: string): Promise<UpcomingBody> {
  const row = await currentSubscription(deps.db, userId);
  if (!row || row.ended || row.status === "incomplete") {
    throw businessError("not_found", NO_UPCOMING);
  }
  let preview: Stripe.Invoice;
  try {
    preview = await deps.stripe.invoices.createPreview({
      customer: row.stripeCustomerId,
      subscription: row.stripeSubscriptionId,
    });
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError) {
      throw businessError("not_found", NO_UPCOMING);
    }
    throw err;
  }
  const period = periodOf(preview);
  return {
    amount_due: formatMinor(preview.amount_due, preview.currency),
    total: formatMinor(preview.total, preview.currency),
    currency: preview.currency,
    period_start: iso(period.start),
    period_end: iso(period.end),
    next_payment_attempt: iso(fromSeconds(preview.next_payment_attempt)),
    lines: linesOf(preview).map((line) => lineBody(line, preview.currency)),
  };
}
