import { and, eq } from "drizzle-orm";
import Stripe from "stripe";
import type { Config } from "../config.ts";
import type { Executor } from "../platform/db/client.ts";
import { AppError } from "../platform/errors.ts";
import { businessError, fieldError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { checkoutSessions } from "./hosted-tables.ts";
import { getActivePlan, type Plan } from "./plans-service.ts";
import {
  ALREADY,
  claimForCheckout,
  expireSession,
  recordSessionStatus,
} from "./subscribe-guard.ts";
import { ensureCustomer, settleOpenSubscriptions } from "./subscriptions-service.ts";

// POST /api/subscriptions/checkout/: a Stripe Checkout Session for a plan
// (docs/checkout-and-invoices.md). What happens once the customer paid is in checkout-events.ts.

export type CheckoutConfig = Pick<Config, "FRONTEND_URL" | "CORS_ALLOWED_ORIGINS">;

export interface CheckoutInput {
  plan_id: string;
  quantity?: number | undefined;
  allow_promotion_codes?: boolean | undefined;
  success_url?: string | undefined;
  cancel_url?: string | undefined;
}

export interface CheckoutAnswer {
  url: string;
  session_id: string;
  expires_at: string;
}

type SessionRow = typeof checkoutSessions.$inferSelect;

/** An open session this close to its expiry is replaced rather than handed out. */
const EXPIRY_MARGIN_MS = 10 * 60_000;

/**
 * A URL Stripe sends the customer's browser back to: the caller's when its origin is the web
 * app's (FRONTEND_URL) or one of CORS_ALLOWED_ORIGINS, else `fallback`, a page of the web app. Any
 * other origin is refused: Stripe would otherwise send a paying customer wherever a request said.
 */
export function returnUrl(
  config: CheckoutConfig,
  field: string,
  given: string | undefined,
  fallback: (frontend: string) => string,
): string {
  const base = config.FRONTEND_URL.replace(/\/+$/, "");
  if (given === undefined) return fallback(base);
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw fieldError(field, "Enter a valid URL.");
  }
  const allowed = new Set([new URL(base).origin, ...config.CORS_ALLOWED_ORIGINS]);
  if ((url.protocol !== "https:" && url.protocol !== "http:") || !allowed.has(url.origin)) {
    throw fieldError(field, "This URL's origin is not allowed.");
  }
  return given;
}

/** The seats asked for, within the plan's bounds; a plan not billed per seat takes exactly one. */
function quantityFor(plan: Plan, quantity: number | undefined): number {
  const q = quantity ?? plan.minQuantity;
  if (!plan.perSeat) {
    if (q !== 1)
      throw fieldError("quantity", "This plan is not billed per seat: omit quantity or send 1.");
    return 1;
  }
  if (q < plan.minQuantity) {
    throw fieldError(
      "quantity",
      `Ensure this value is greater than or equal to ${plan.minQuantity}.`,
    );
  }
  if (plan.maxQuantity !== null && q > plan.maxQuantity) {
    throw fieldError("quantity", `Ensure this value is less than or equal to ${plan.maxQuantity}.`);
  }
  return q;
}

interface Wanted {
  userId: string;
  planId: string;
  quantity: number;
  allowPromotionCodes: boolean;
  successUrl: string;
  cancelUrl: string;
}

/**
 * The user's one open session row: the open one when it asks for the same thing and is not about
 * to expire, else a new row, the open one (if any) marked replaced. Serialized per user with
 * create/ (`claimForCheckout`), and refused while a create/ is in flight; the partial unique index
 * backs it.
 */
async function claimSession(
  db: Executor,
  wanted: Wanted,
): Promise<{ row: SessionRow; replaced: SessionRow | undefined }> {
  return claimForCheckout(db, wanted.userId, async (tx) => {
    const [open] = await tx
      .select()
      .from(checkoutSessions)
      .where(and(eq(checkoutSessions.userId, wanted.userId), eq(checkoutSessions.status, "open")));
    const fresh = !open?.expiresAt || open.expiresAt.getTime() > Date.now() + EXPIRY_MARGIN_MS;
    if (
      open &&
      fresh &&
      open.planId === wanted.planId &&
      open.quantity === wanted.quantity &&
      open.allowPromotionCodes === wanted.allowPromotionCodes
    ) {
      return { row: open, replaced: undefined };
    }
    if (open) await markSession(tx, open.id, "expired");
    const [row] = await tx.insert(checkoutSessions).values(wanted).returning();
    if (!row) throw new Error("checkout session insert returned nothing");
    return { row, replaced: open };
  });
}

async function markSession(db: Executor, id: string, status: "expired" | "complete") {
  await db
    .update(checkoutSessions)
    .set({ status, updatedAt: new Date() })
    .where(eq(checkoutSessions.id, id));
}

const answerOf = (session: Stripe.Checkout.Session): CheckoutAnswer => {
  if (!session.url) throw new Error(`checkout session ${session.id} has no url`);
  return {
    url: session.url,
    session_id: session.id,
    expires_at: new Date(session.expires_at * 1000).toISOString(),
  };
};

/**
 * POST checkout/: a Checkout Session for the plan, carrying the user three ways so that whatever
 * order its events arrive in they find their owner: the user's Stripe customer (created now if
 * need be, and linked before the session exists), `client_reference_id`, and `metadata.user_id` on
 * the subscription it creates. An active subscriber is refused as by create/ (checked at Stripe).
 */
export async function startCheckout(
  deps: BillingDeps & { logger: Logger },
  config: CheckoutConfig,
  userId: string,
  input: CheckoutInput,
): Promise<CheckoutAnswer> {
  const plan = await getActivePlan(deps.db, input.plan_id);
  const quantity = quantityFor(plan, input.quantity);
  const urls = {
    successUrl: returnUrl(
      config,
      "success_url",
      input.success_url,
      (base) => `${base}/billing?checkout=success`,
    ),
    cancelUrl: returnUrl(
      config,
      "cancel_url",
      input.cancel_url,
      (base) => `${base}/plans?checkout=canceled`,
    ),
  };
  try {
    return await openFor(deps, userId, plan, quantity, input.allow_promotion_codes ?? false, urls);
  } catch (err) {
    if (err instanceof AppError || !(err instanceof Stripe.errors.StripeError)) throw err;
    deps.logger.error({ err, user: userId }, "checkout session failed");
    throw businessError("invalid", "Checkout could not be started. Please try again.");
  }
}

async function openFor(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  plan: Plan,
  quantity: number,
  allowPromotionCodes: boolean,
  urls: { successUrl: string; cancelUrl: string },
): Promise<CheckoutAnswer> {
  const { user, customer } = await ensureCustomer(deps, userId);
  await settleOpenSubscriptions(deps, customer, `checkout-session:${userId}:replace`, {
    user,
    plans: [plan],
  });
  const wanted = { userId, planId: plan.id, quantity, allowPromotionCodes, ...urls };
  for (let attempt = 0; attempt < 3; attempt++) {
    const { row, replaced } = await claimSession(deps.db, wanted);
    if (replaced?.stripeSessionId && (await expireAtStripe(deps, replaced.stripeSessionId))) {
      // The replaced session was paid meanwhile (its webhook not processed yet).
      await markSession(deps.db, row.id, "expired");
      throw businessError("invalid", ALREADY);
    }
    const session = await openSession(deps, row, plan, customer);
    if (session) return answerOf(session);
  }
  throw new Error(`no open checkout session for user ${userId} after three attempts`);
}

/**
 * The row's Stripe session: created with a key derived from the row (a concurrent request for the
 * same row, or a retry, gets the same session), or read back when the row has one. Undefined when
 * that session has expired or the row was replaced while it was made (the row is then marked, the
 * session expired, and the caller claims again); a 400 when it was paid meanwhile, or when a
 * create/ began meanwhile.
 */
async function openSession(
  deps: BillingDeps & { logger: Logger },
  row: SessionRow,
  plan: Plan,
  customer: string,
): Promise<Stripe.Checkout.Session | undefined> {
  let session: Stripe.Checkout.Session;
  if (row.stripeSessionId) {
    session = await deps.stripe.checkout.sessions.retrieve(row.stripeSessionId);
  } else {
    try {
      session = await createSession(
        deps.stripe,
        {
          mode: "subscription",
          customer,
          client_reference_id: row.userId,
          line_items: [{ price: plan.stripePriceId, quantity: row.quantity }],
          ...(row.allowPromotionCodes ? { allow_promotion_codes: true } : {}),
          subscription_data: { metadata: { user_id: row.userId, plan_id: plan.id } },
          metadata: { user_id: row.userId, plan_id: plan.id },
          success_url: row.successUrl,
          cancel_url: row.cancelUrl,
        },
        `checkout-session:${row.id}`,
      );
    } catch (err) {
      // Replaying the key would replay the refusal: the row is given up, the next request starts
      // afresh with a row (and key) of its own.
      await markSession(deps.db, row.id, "expired");
      throw err;
    }
  }
  if (session.status === "open") {
    if (row.stripeSessionId || (await recordSession(deps, row, session))) return session;
    return undefined;
  }
  await markSession(deps.db, row.id, session.status === "complete" ? "complete" : "expired");
  // Paid meanwhile (its webhook not processed yet): the user is a subscriber now.
  if (session.status === "complete") throw businessError("invalid", ALREADY);
  return undefined;
}

/**
 * Creates a session under the row's key. A concurrent request for the same row may hold that key
 * at Stripe for a moment (409 `idempotency_key_in_use`): waited for briefly, then replayed, which
 * answers the one session both asked for.
 */
async function createSession(
  stripe: Stripe,
  params: Stripe.Checkout.SessionCreateParams,
  idempotencyKey: string,
): Promise<Stripe.Checkout.Session> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await stripe.checkout.sessions.create(params, { idempotencyKey });
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeIdempotencyError) || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * Records the session just created on its row, under the lock create/ claims with. Refused while a
 * create/ is in flight (which expires only the sessions it can see), and not written when the row
 * was replaced meanwhile: either way the session is expired at once, never handed out, so the
 * customer cannot pay it besides the other. Answers whether it was recorded.
 */
async function recordSession(
  deps: BillingDeps & { logger: Logger },
  row: SessionRow,
  session: Stripe.Checkout.Session,
): Promise<boolean> {
  let recorded: boolean;
  try {
    recorded = await claimForCheckout(deps.db, row.userId, async (tx) => {
      const written = await tx
        .update(checkoutSessions)
        .set({
          stripeSessionId: session.id,
          url: session.url,
          expiresAt: new Date(session.expires_at * 1000),
          updatedAt: new Date(),
        })
        .where(and(eq(checkoutSessions.id, row.id), eq(checkoutSessions.status, "open")))
        .returning({ id: checkoutSessions.id });
      return written.length > 0;
    });
  } catch (err) {
    await expireAtStripe(deps, session.id);
    throw err;
  }
  if (!recorded) await expireAtStripe(deps, session.id);
  return recorded;
}

/**
 * Expires a session we will not hand out, so the customer cannot pay for two. Answers whether it
 * had been paid already (Stripe refuses to expire it then).
 */
async function expireAtStripe(
  deps: BillingDeps & { logger: Logger },
  id: string,
): Promise<boolean> {
  const session = await expireSession(deps.stripe, id);
  await recordSessionStatus(deps.db, session);
  if (session.status === "complete") {
    deps.logger.info({ session: id }, "checkout session to expire had been paid already");
  }
  return session.status === "complete";
}
