import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { and, eq, inArray } from "drizzle-orm";
import Stripe from "stripe";
import { payments, subscriptions } from "../../src/billing/billing-tables.ts";
import { createPlan, type PlanBody, planBody } from "../../src/billing/plans-service.ts";
import { createStripeClient } from "../../src/billing/stripe-client.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import {
  type EngineConfig,
  type StripeEmulator,
  startStripeEmulator,
} from "../../stripe-emulator/index.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { startTestApp, type TestApp } from "./app.ts";
import { waitFor } from "./wait.ts";

export const WEBHOOK_SECRET = "whsec_test_billing_0123456789abcdef0123456789";
export const DAY = 86_400;

export interface HttpResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of every endpoint, asserted field by field
  body: any;
}

export interface Customer {
  token: string;
  userId: string;
  email: string;
}

export interface BillingTestApp extends TestApp {
  /** Where the app listens: webhooks from the emulator arrive here over real HTTP. */
  url: string;
  emulator: StripeEmulator;
  /** The SDK client the app uses (tests act as Stripe's dashboard with it). */
  stripe: Stripe;
  http(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
  ): Promise<HttpResult>;
  signUp(): Promise<Customer>;
  /** A Stripe product + monthly (or yearly) price registered as a plan; returns its API body. */
  plan(options?: {
    amount?: number;
    currency?: string;
    interval?: "month" | "year";
    name?: string;
  }): Promise<PlanBody>;
  subscribe(customer: Customer, planId: string, card?: string): Promise<HttpResult>;
  /** Every delivery answered and every stored event processed (failures aside). */
  settle(): Promise<void>;
  emailsOf(userId: string): Promise<{ template: string; causeKey: string; subject: string }[]>;
  paymentsOf(userId: string): Promise<(typeof payments.$inferSelect)[]>;
  subscriptionsOf(userId: string): Promise<(typeof subscriptions.$inferSelect)[]>;
  /** Moves the emulator's clock and waits for the consequences. */
  advance(seconds: number): Promise<void>;
  /** Between tests that move the clock: forget Stripe's state (webhook endpoint kept). */
  resetStripe(): Promise<void>;
}

export interface BillingAppOptions {
  /** Extra emulator pipeline stages (fault injection, pauses). */
  stages?: Stage[];
  billing?: Partial<EngineConfig>;
  env?: Record<string, string>;
  /** Run the job worker (default true); without it, webhook events stay stored and pending. */
  worker?: boolean;
  /** The emulator's wall clock in ms (default Date.now): a constant one makes every `created` equal. */
  now?: () => number;
}

/**
 * The real app listening on an ephemeral port, with its own emulator whose signed webhooks reach
 * the app over HTTP, as Stripe's would. Failed events retry after about a second, once.
 */
export async function startBillingApp(options: BillingAppOptions = {}): Promise<BillingTestApp> {
  const emulator = await startStripeEmulator({
    deliveryRetryDelaysMs: [200, 500],
    ...(options.stages ? { stages: options.stages } : {}),
    ...(options.billing ? { billing: options.billing } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const stripe = createStripeClient("sk_test_billing_tests", emulator.url);
  const base = await startTestApp({
    env: {
      PASSWORD_HASH_MEMORY_KIB: "1024",
      PASSWORD_HASH_ITERATIONS: "1",
      THROTTLE_REGISTER_IP: "100000/hour",
      WEBHOOK_RETRY_LIMIT: "1",
      WEBHOOK_RETRY_DELAY: "1",
      ...options.env,
    },
    stripe: { stripe, webhookSecret: WEBHOOK_SECRET, emulator },
    ...(options.worker === undefined ? {} : { worker: options.worker }),
  });
  await base.app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(base.app.server.address() as AddressInfo).port}`;
  emulator.addWebhookEndpoint({ url: `${url}/api/webhooks/stripe/`, secret: WEBHOOK_SECRET });
  const { db } = base.services.database;

  const http: BillingTestApp["http"] = async (method, path, opts = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(opts.body === undefined ? {} : { "content-type": "application/json" }),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const settle = async () => {
    await emulator.idle();
    await waitFor(
      async () => {
        const pending = await db
          .select({ id: stripeEvents.id })
          .from(stripeEvents)
          .where(eq(stripeEvents.status, "pending"));
        return pending.length === 0;
      },
      { what: "stored events to be processed", timeoutMs: 20_000 },
    );
    await emulator.idle();
  };

  return {
    ...base,
    url,
    emulator,
    stripe,
    http,
    async signUp() {
      const id = randomBytes(6).toString("hex");
      const email = `buyer-${id}@example.com`;
      const res = await http("POST", "/api/auth/register/", {
        body: {
          email,
          username: `buyer_${id}`,
          first_name: "Ada",
          password: "correct-Horse-battery-9",
          password_confirm: "correct-Horse-battery-9",
        },
      });
      if (res.status !== 201)
        throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
      return { token: res.body.tokens.access, userId: res.body.user.id, email };
    },
    async plan(p = {}) {
      const product = await stripe.products.create({
        name: p.name ?? `Plan ${randomBytes(3).toString("hex")}`,
        marketing_features: [{ name: "Everything" }],
      });
      const price = await stripe.prices.create({
        product: product.id,
        unit_amount: p.amount ?? 999,
        currency: p.currency ?? "usd",
        recurring: { interval: p.interval ?? "month" },
      });
      const plan = await createPlan(db, stripe, {
        name: product.name,
        priceId: price.id,
        features: ["Everything"],
      });
      return planBody(plan);
    },
    subscribe: (customer, planId, card = "pm_card_visa") =>
      http("POST", "/api/subscriptions/create/", {
        token: customer.token,
        body: { plan_id: planId, payment_method_id: card },
      }),
    settle,
    async emailsOf(userId) {
      return db
        .select({ template: emails.template, causeKey: emails.causeKey, subject: emails.subject })
        .from(emails)
        .where(
          and(eq(emails.userId, userId), inArray(emails.status, ["queued", "sent", "retrying"])),
        )
        .orderBy(emails.template, emails.causeKey);
    },
    async paymentsOf(userId) {
      return db
        .select()
        .from(payments)
        .where(eq(payments.userId, userId))
        .orderBy(payments.occurredAt, payments.status, payments.attempt);
    },
    async subscriptionsOf(userId) {
      return db
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.userId, userId))
        .orderBy(subscriptions.stripeCreatedAt);
    },
    async advance(seconds) {
      await settle();
      await emulator.advanceTime(seconds);
      await settle();
    },
    async resetStripe() {
      await settle();
      emulator.reset();
    },
    async close() {
      await emulator.idle();
      await base.close();
      await emulator.close();
    },
  };
}

/** The PaymentIntent of a subscription's latest invoice (to pass 3-D Secure as the customer). */
export async function latestPaymentIntent(stripe: Stripe, subscriptionId: string): Promise<string> {
  const sub = await stripe.subscriptions.retrieve(subscriptionId, {
    expand: ["latest_invoice.payments"],
  });
  const invoice = sub.latest_invoice;
  if (!invoice || typeof invoice === "string") throw new Error("no latest invoice");
  const pi = invoice.payments?.data[0]?.payment.payment_intent;
  if (!pi) throw new Error("no payment intent");
  return typeof pi === "string" ? pi : pi.id;
}

export { Stripe };
