import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import type { Reply } from "../server.ts";
import { esc, money, page } from "./hosted-pages.ts";
import { textPdf } from "./invoice-pdf.ts";

/** `hosted_invoice_url`: the invoice as its customer reads it, with a link to its PDF. */
export function renderInvoicePage(ctx: Ctx, id: string): Reply {
  const inv = ctx.state.invoices[id];
  if (!inv || inv.status === "draft") return page("Invoice not found", "", 404);
  const rows = summary(inv)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join("");
  const lines = inv.lines.data
    .map(
      (l) => `<tr><td>${esc(l.description)}</td><td>${esc(money(l.amount, l.currency))}</td></tr>`,
    )
    .join("");
  return page(
    `Invoice ${inv.number ?? inv.id}`,
    `<table>${rows}</table><h2>Lines</h2><table>${lines}</table><p><a href="/invoices/${esc(inv.id)}/pdf" id="pdf">Download PDF</a></p>`,
  );
}

/** `invoice_pdf`: the same facts as a one-page PDF. */
export function renderInvoicePdf(ctx: Ctx, id: string): Reply {
  const inv = ctx.state.invoices[id];
  if (!inv || inv.status === "draft") return page("Invoice not found", "", 404);
  const facts = summary(inv).map(([k, v]) => `${k}: ${v}`);
  const lines = inv.lines.data.map((l) => `${l.description ?? ""}  ${money(l.amount, l.currency)}`);
  const name = inv.number ?? inv.id;
  return {
    status: 200,
    body: null,
    contentType: "application/pdf",
    raw: textPdf(`Invoice ${name}`, [...facts, "", "Lines:", ...lines]),
    headers: { "content-disposition": `inline; filename="${name.replace(/[^\w.-]/g, "_")}.pdf"` },
  };
}

function summary(inv: Stripe.Invoice): [string, string][] {
  const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
  return [
    ["Status", inv.status ?? ""],
    ["Billed to", inv.customer_email ?? String(inv.customer)],
    ["Date", day(inv.created)],
    ["Period", `${day(inv.period_start)} to ${day(inv.period_end)}`],
    ["Total", money(inv.total, inv.currency)],
    ["Amount paid", money(inv.amount_paid, inv.currency)],
    ["Amount remaining", money(inv.amount_remaining, inv.currency)],
  ];
}
