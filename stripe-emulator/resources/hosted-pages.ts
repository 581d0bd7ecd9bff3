import type Stripe from "stripe";
import { TEST_CARDS } from "../cards.ts";
import type { Ctx } from "../context.ts";
import type { Reply } from "../server.ts";

/**
 * The hosted pages a browser opens from a Stripe URL (Checkout, the portal, an invoice): plain
 * server-rendered HTML, no script and no external asset, every value escaped. Forms post back
 * to the page; hosted-routes.ts runs what they ask through the same code as the API.
 */
export const page = (title: string, inner: string, status = 200): Reply => ({
  status,
  body: null,
  contentType: "text/html; charset=utf-8",
  raw: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body><main><h1>${esc(title)}</h1>${inner}</main></body></html>`,
});

const STYLE =
  "body{font-family:system-ui,sans-serif;background:#f6f8fa;color:#1a1f36;margin:0}main{max-width:40rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem;border-bottom:1px solid #e3e8ee}button{margin:.2rem 0;padding:.4rem .8rem}.error{color:#b3093c}form{margin:.6rem 0}";

export const esc = (value: string | number | null | undefined): string =>
  String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `1234, "usd"` → `12.34 USD` (the emulator's prices are in two-decimal currencies). */
export const money = (amount: number | null, currency: string | null): string =>
  `${((amount ?? 0) / 100).toFixed(2)} ${(currency ?? "").toUpperCase()}`;

export const redirect = (location: string): Reply => ({
  status: 303,
  body: null,
  raw: "",
  contentType: "text/plain",
  headers: { location },
});

/** Whether paying with this test card asks the customer for 3-D Secure on the page. */
export function needsAuthentication(paymentMethod: string): boolean {
  const behavior = TEST_CARDS[paymentMethod]?.behavior;
  return behavior === "auth_always" || behavior === "auth_on_setup";
}

/** A select of Stripe's test cards (cards.ts), each labelled with what it does. */
export function cardSelect(name: string): string {
  const options = Object.entries(TEST_CARDS)
    .map(
      ([id, card]) =>
        `<option value="${esc(id)}">${esc(`${card.brand} ···· ${card.last4} — ${id} (${card.behavior})`)}</option>`,
    )
    .join("");
  return `<label>Card <select name="${esc(name)}">${options}</select></label>`;
}

export function renderCheckoutPage(ctx: Ctx, id: string, error?: string): Reply {
  const s = ctx.state.checkoutSessions[id];
  if (!s) return page("Checkout session not found", "", 404);
  if (s.status !== "open") {
    const next = s.success_url?.replace("{CHECKOUT_SESSION_ID}", s.id);
    const title =
      s.status === "expired" ? "Session expired" : s.mode === "setup" ? "Card saved" : "Paid";
    return page(title, next && s.status === "complete" ? link(next, "Continue") : "");
  }
  const lines = (ctx.state.checkoutLineItems[id] ?? [])
    .map(
      (li) =>
        `<tr><td>${esc(li.description)} × ${esc(li.quantity)}</td><td>${esc(money(li.amount_total, li.currency))}</td></tr>`,
    )
    .join("");
  const summary =
    s.mode === "setup"
      ? "<p>Save a card for later payments.</p>"
      : `<table>${lines}<tr><th>Total due today</th><th id="total">${esc(money(s.amount_total, s.currency))}</th></tr></table>`;
  const email = s.customer_email ? `<p>Email: ${esc(s.customer_email)}</p>` : "";
  const verb = s.mode === "setup" ? "Save card" : "Pay";
  const back = s.cancel_url ? link(s.cancel_url, "Back") : "";
  const err = error ? `<p class="error" role="alert">${esc(error)}</p>` : "";
  return page(
    "Stripe emulator checkout",
    `${summary}${email}${err}<form method="post" action="/checkout/${esc(s.id)}">${cardSelect("payment_method")}<p><button type="submit" id="pay">${verb}</button></p></form>${back}`,
    error ? 402 : 200,
  );
}

/** 3-D Secure's challenge: the customer completes or fails it; nothing is charged before. */
export function renderAuthorizePage(
  session: Stripe.Checkout.Session,
  paymentMethod: string,
): Reply {
  const action = `/checkout/${esc(session.id)}/authorize`;
  const hidden = `<input type="hidden" name="payment_method" value="${esc(paymentMethod)}">`;
  return page(
    "3D Secure authentication",
    `<p>Your bank asks you to confirm this ${session.mode === "setup" ? "card" : `payment of ${esc(money(session.amount_total, session.currency))}`}.</p><form method="post" action="${action}">${hidden}<button name="outcome" value="complete" id="authorize">Complete authentication</button> <button name="outcome" value="fail" id="fail">Fail authentication</button></form>`,
  );
}

export const link = (href: string, text: string): string =>
  `<p><a href="${esc(href)}">${esc(text)}</a></p>`;
