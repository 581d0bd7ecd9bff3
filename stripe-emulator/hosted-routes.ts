import type { Emulator } from "./emulator.ts";
import { StripeApiError } from "./errors.ts";
import { renderInvoicePage, renderInvoicePdf } from "./resources/hosted-invoice.ts";
import {
  needsAuthentication,
  redirect,
  renderAuthorizePage,
  renderCheckoutPage,
} from "./resources/hosted-pages.ts";
import { renderPortalPage } from "./resources/hosted-portal.ts";
import type { PortalAction } from "./resources/portal.ts";
import type { Exchange, Reply } from "./server.ts";

/** What the pages' forms do: the test controls (controls.ts) that run them as the customer. */
export interface HostedActions {
  completeCheckoutSession(
    id: string,
    paymentMethod?: string,
    authenticated?: boolean,
  ): Promise<void>;
  portalAction(sessionId: string, action: PortalAction): Promise<void>;
}

/**
 * The hosted pages' routes: `/checkout/{id}` (and its `/authorize` step), `/portal/{id}` (and
 * its actions), `/invoices/{id}` and `/invoices/{id}/pdf`. A form's POST answers with a redirect
 * (post/redirect/get), or the page again with Stripe's message when Stripe refuses what it asked.
 * `null` when the path is none of these.
 */
export async function hostedPage(
  em: Emulator,
  c: HostedActions,
  ex: Exchange,
  seg: string[],
): Promise<Reply | null> {
  const [, area, id, step] = seg;
  if (!id) return null;
  if (area === "checkout")
    return ex.method === "GET" ? renderCheckoutPage(em.ctx, id) : checkoutPost(em, c, ex, id, step);
  if (area === "portal")
    return ex.method === "GET" ? renderPortalPage(em.ctx, id) : portalPost(em, c, ex, id, step);
  if (area === "invoices" && ex.method === "GET") {
    return step === "pdf" ? renderInvoicePdf(em.ctx, id) : renderInvoicePage(em.ctx, id);
  }
  return null;
}

const field = (ex: Exchange, name: string): string => {
  const value = ex.params[name];
  return typeof value === "string" ? value : "";
};

async function checkoutPost(
  em: Emulator,
  c: HostedActions,
  ex: Exchange,
  id: string,
  step: string | undefined,
): Promise<Reply> {
  const session = em.state.checkoutSessions[id];
  const pm = field(ex, "payment_method") || "pm_card_visa";
  if (session?.status !== "open") return renderCheckoutPage(em.ctx, id);
  const authorize = step === "authorize";
  if (!authorize && needsAuthentication(pm)) return renderAuthorizePage(session, pm);
  if (authorize && field(ex, "outcome") !== "complete") {
    return renderCheckoutPage(
      em.ctx,
      id,
      "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
    );
  }
  try {
    await c.completeCheckoutSession(id, pm, authorize);
  } catch (err) {
    if (err instanceof StripeApiError) return renderCheckoutPage(em.ctx, id, err.message);
    throw err;
  }
  const next = session.success_url?.replace("{CHECKOUT_SESSION_ID}", id);
  return redirect(next ?? `/checkout/${id}`);
}

async function portalPost(
  em: Emulator,
  c: HostedActions,
  ex: Exchange,
  id: string,
  step: string | undefined,
): Promise<Reply> {
  const subscription = field(ex, "subscription");
  const actions: Record<string, PortalAction> = {
    cancel: { kind: "cancel", subscription },
    renew: { kind: "renew", subscription },
    switch: { kind: "switch", subscription, price: field(ex, "price") },
    card: { kind: "card", paymentMethod: field(ex, "payment_method") || "pm_card_visa" },
  };
  const action = step ? actions[step] : undefined;
  if (!action) return renderPortalPage(em.ctx, id, "Unknown action.");
  try {
    await c.portalAction(id, action);
  } catch (err) {
    if (err instanceof StripeApiError) return renderPortalPage(em.ctx, id, err.message);
    throw err;
  }
  return redirect(`/portal/${id}`);
}
