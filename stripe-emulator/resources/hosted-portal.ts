import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import type { Reply } from "../server.ts";
import { cardSelect, esc, link, money, page } from "./hosted-pages.ts";
import { portalSubscriptions, switchablePrices } from "./portal.ts";

/** The Billing Portal page: the customer's subscriptions, their card and invoices. */
export function renderPortalPage(ctx: Ctx, id: string, error?: string): Reply {
  const s = ctx.state.portalSessions[id];
  if (!s) return page("Portal session not found", "", 404);
  const customer = String(s.customer);
  const c = ctx.state.customers[customer];
  const action = `/portal/${esc(id)}`;
  const subs = portalSubscriptions(ctx, customer)
    .map((sub) => subscriptionBlock(ctx, sub, action))
    .join("");
  const dpm = c?.invoice_settings.default_payment_method;
  const card = typeof dpm === "string" ? ctx.state.paymentMethods[dpm]?.card : undefined;
  const cardText = card ? `${card.brand} ···· ${card.last4}` : "none";
  const invoices = Object.values(ctx.state.invoices)
    .filter((inv) => inv.customer === customer && inv.status !== "draft")
    .sort((a, b) => b.created - a.created)
    .map(
      (inv) =>
        `<tr><td><a href="/invoices/${esc(inv.id)}">${esc(inv.number ?? inv.id)}</a></td><td>${esc(inv.status)}</td><td>${esc(money(inv.total, inv.currency))}</td></tr>`,
    )
    .join("");
  const err = error ? `<p class="error" role="alert">${esc(error)}</p>` : "";
  return page(
    "Stripe emulator billing portal",
    `<p>${esc(c?.email ?? customer)}</p>${err}${subs || "<p>No subscription.</p>"}<h2>Payment method</h2><p id="card">${esc(cardText)}</p><form method="post" action="${action}/card">${cardSelect("payment_method")} <button id="update-card">Update card</button></form><h2>Invoices</h2><table>${invoices}</table>${s.return_url ? link(s.return_url, "Return") : ""}`,
    error ? 400 : 200,
  );
}

function subscriptionBlock(ctx: Ctx, sub: Stripe.Subscription, action: string): string {
  const item = sub.items.data[0];
  const name = (p: Stripe.Price) => {
    const product = ctx.state.products[String(p.product)]?.name ?? String(p.product);
    return `${product} ${p.nickname ?? ""} ${money(p.unit_amount, p.currency)} / ${p.recurring?.interval ?? ""}`;
  };
  const hidden = `<input type="hidden" name="subscription" value="${esc(sub.id)}">`;
  const end = new Date((item?.current_period_end ?? 0) * 1000).toISOString().slice(0, 10);
  const cancel = sub.cancel_at_period_end
    ? `<p>Cancels on ${esc(end)}.</p><form method="post" action="${action}/renew">${hidden}<button id="renew">Renew plan</button></form>`
    : `<form method="post" action="${action}/cancel">${hidden}<button id="cancel">Cancel plan</button></form>`;
  const options = switchablePrices(ctx, sub)
    .map((p) => `<option value="${esc(p.id)}">${esc(name(p))}</option>`)
    .join("");
  const change = options
    ? `<form method="post" action="${action}/switch">${hidden}<label>New plan <select name="price">${options}</select></label> <button id="switch">Switch plan</button></form>`
    : "";
  return `<section class="subscription"><h2>Current plan</h2><p id="plan">${esc(item ? name(item.price) : "")} × ${esc(item?.quantity)} (${esc(sub.status)})</p>${cancel}${change}</section>`;
}
