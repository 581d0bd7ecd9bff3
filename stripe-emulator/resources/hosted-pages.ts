import type { Ctx } from "../context.ts";
import type { Reply } from "../server.ts";

/**
 * The hosted Checkout and portal pages a browser opens from a session's `url`: plain HTML, no
 * external assets. Paying posts back to the page (controls.ts completes the session).
 */
const html = (title: string, inner: string): Reply => ({
  status: 200,
  body: null,
  contentType: "text/html; charset=utf-8",
  raw: `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${inner}</body></html>`,
});

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderCheckoutPage(ctx: Ctx, id: string): Reply {
  const s = ctx.state.checkoutSessions[id];
  if (!s) return { ...html("Checkout session not found", ""), status: 404 };
  if (s.status === "complete") {
    const next = s.success_url?.replace("{CHECKOUT_SESSION_ID}", s.id);
    const title = s.mode === "setup" ? "Card saved" : "Payment complete";
    return html(title, next ? `<p><a href="${esc(next)}">Continue</a></p>` : "");
  }
  const cards = ["pm_card_visa", "pm_card_chargeCustomerFail", "pm_card_authenticationRequired"];
  const verb = s.mode === "setup" ? "Save" : "Pay with";
  const buttons = cards
    .map((c) => `<button name="payment_method" value="${c}">${verb} ${c}</button>`)
    .join(" ");
  const summary =
    s.mode === "setup"
      ? "<p>Save a card for later payments</p>"
      : `<p>Total: ${s.amount_total} ${s.currency}</p>`;
  return html("Stripe emulator checkout", `${summary}<form method="post">${buttons}</form>`);
}

export function renderPortalPage(ctx: Ctx, id: string): Reply {
  const s = ctx.state.portalSessions[id];
  if (!s) return { ...html("Portal session not found", ""), status: 404 };
  const back = s.return_url ? `<p><a href="${esc(s.return_url)}">Return</a></p>` : "";
  return html(
    "Stripe emulator billing portal",
    `<p>Customer ${esc(String(s.customer))}</p>${back}`,
  );
}
