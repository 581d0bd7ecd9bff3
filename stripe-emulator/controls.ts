import { customerIdOf } from "./billing/invoicing.ts";
import type { Emulator } from "./emulator.ts";
import { invalidRequest, StripeApiError } from "./errors.ts";
import { hostedPage } from "./hosted-routes.ts";
import { isRecord, type Params } from "./params.ts";
import { completeCheckout } from "./resources/checkout.ts";
import { confirmPaymentIntent, getPaymentIntent } from "./resources/payment-intents.ts";
import type { PortalAction } from "./resources/portal.ts";
import { runPortalAction } from "./resources/portal.ts";
import { confirmSetupIntent, getSetupIntent } from "./resources/setup-intents.ts";
import type { Exchange, Next, Reply, Stage } from "./server.ts";

/** What the test controls do; shared by the programmatic API and the HTTP routes. */
export interface Controls {
  reset(): void;
  advanceTime(seconds: number): Promise<void>;
  holdDeliveries(hold: boolean): void;
  heldEvents(): string[];
  /** Drops the held events undelivered (Stripe gave up on the endpoint); answers their ids. */
  discardHeld(): string[];
  deliver(eventIds: string[]): Promise<void>;
  redeliver(eventId: string): Promise<void>;
  confirmPaymentIntent(id: string): Promise<void>;
  /**
   * The customer confirms a SetupIntent in the browser (Stripe.js): with `paymentMethod` (a test
   * id) they enter that card, else they complete 3-D Secure for one in `requires_action`.
   */
  confirmSetupIntent(id: string, paymentMethod?: string): Promise<void>;
  /** `authenticated`: the customer passed 3-D Secure on the hosted page's authorize step. */
  completeCheckoutSession(
    id: string,
    paymentMethod?: string,
    authenticated?: boolean,
  ): Promise<void>;
  /** What the customer does on a Billing Portal session's page (resources/portal.ts). */
  portalAction(sessionId: string, action: PortalAction): Promise<void>;
  idle(): Promise<void>;
}

export function makeControls(em: Emulator): Controls {
  const mutate = <T>(fn: () => T): T => {
    em.tick();
    try {
      return fn();
    } finally {
      em.persist();
    }
  };
  return {
    reset: () => em.reset(),
    advanceTime: async (seconds) => {
      if (!(seconds >= 0)) throw invalidRequest("seconds must be a non-negative number");
      mutate(() => em.advanceGlobalTo(em.ctx.now(null) + Math.floor(seconds)));
    },
    holdDeliveries: (hold) => em.dispatcher.hold(hold),
    heldEvents: () => em.dispatcher.heldEvents(),
    discardHeld: () => em.dispatcher.discardHeld(),
    deliver: (ids) => em.dispatcher.deliver(ids),
    redeliver: (id) => em.dispatcher.redeliver(id),
    confirmPaymentIntent: async (id) => {
      mutate(() => {
        const pi = getPaymentIntent(em.ctx, id);
        try {
          confirmPaymentIntent(em.ctx, pi, {}, true);
        } catch (err) {
          // A card that declines after authentication leaves the decline on the PaymentIntent.
          if (pi.status !== "requires_payment_method") throw err;
        }
        return customerIdOf(pi);
      });
    },
    confirmSetupIntent: async (id, pm) => {
      mutate(() => {
        const si = getSetupIntent(em.ctx, id);
        if (!pm && si.status !== "requires_action") {
          throw invalidRequest(`SetupIntent ${id} is ${si.status}, not requires_action.`);
        }
        try {
          confirmSetupIntent(em.ctx, si, pm ? { payment_method: pm } : {}, true);
        } catch (err) {
          // A declined card leaves the decline on the SetupIntent, as the browser shows it.
          if (!(err instanceof StripeApiError && err.status === 402)) throw err;
        }
      });
    },
    completeCheckoutSession: async (id, pm, authenticated) => {
      mutate(() => completeCheckout(em.ctx, id, pm, authenticated));
    },
    portalAction: async (sessionId, action) => {
      mutate(() => runPortalAction(em.ctx, sessionId, action));
    },
    idle: () => em.dispatcher.idle(),
  };
}

function bodyOf(ex: Exchange): Params {
  const type = ex.headers["content-type"] ?? "";
  if (type.includes("application/json") && ex.rawBody) {
    const parsed: unknown = JSON.parse(ex.rawBody);
    return isRecord(parsed) ? parsed : {};
  }
  return ex.params;
}

const ok = (body: unknown = { ok: true }): Reply => ({ status: 200, body });

/** `/_emulator/…` test controls and the hosted pages (checkout, portal, invoices). No API key. */
export function controlsStage(em: Emulator, c: Controls): Stage {
  return async (ex: Exchange, next: Next): Promise<Reply> => {
    const p = ex.path.replace(/\/$/, "");
    const seg = p.split("/");
    const body = () => bodyOf(ex);
    if (seg[1] !== "_emulator") return (await hostedPage(em, c, ex, seg)) ?? next();
    const route = `${ex.method} /${seg.slice(2).join("/")}`;
    if (route === "POST /reset") {
      c.reset();
      return ok();
    }
    if (route === "POST /advance") {
      await c.advanceTime(Number(body().seconds));
      return ok({ now: em.ctx.now(null) });
    }
    if (route === "GET /now") return ok({ now: em.ctx.now(null) });
    if (route === "POST /hold") {
      const hold = body().hold;
      c.holdDeliveries(hold === true || hold === "true");
      return ok();
    }
    if (route === "GET /held") return ok({ event_ids: c.heldEvents() });
    if (route === "POST /discard") return ok({ event_ids: c.discardHeld() });
    if (route === "POST /deliver") {
      const ids = body().event_ids;
      const list = Array.isArray(ids)
        ? ids.map(String)
        : isRecord(ids)
          ? Object.values(ids).map(String)
          : [];
      await c.deliver(list);
      return ok();
    }
    if (ex.method === "POST" && seg[2] === "events" && seg[3] && seg[4] === "redeliver") {
      await c.redeliver(seg[3]);
      return ok();
    }
    if (ex.method === "POST" && seg[2] === "payment_intents" && seg[3] && seg[4] === "confirm") {
      await c.confirmPaymentIntent(seg[3]);
      return ok(em.state.paymentIntents[seg[3]]);
    }
    if (ex.method === "POST" && seg[2] === "setup_intents" && seg[3] && seg[4] === "confirm") {
      const pm = body().payment_method;
      await c.confirmSetupIntent(seg[3], typeof pm === "string" ? pm : undefined);
      return ok(em.state.setupIntents[seg[3]]);
    }
    if (ex.method === "POST" && seg[2] === "checkout_sessions" && seg[3] && seg[4] === "complete") {
      const pm = body().payment_method;
      await c.completeCheckoutSession(seg[3], typeof pm === "string" ? pm : undefined);
      return ok(em.state.checkoutSessions[seg[3]]);
    }
    if (route === "GET /idle") {
      await c.idle();
      return ok();
    }
    return next();
  };
}
