import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import {
  type StripeEmulator,
  type StripeEmulatorOptions,
  startStripeEmulator,
} from "../../stripe-emulator/index.ts";

export interface Received {
  body: string;
  signature: string;
}

/** A local webhook receiver; `status` decides the answer for each delivery. */
export class Receiver {
  received: Received[] = [];
  status: (attempt: number) => number = () => 200;
  #server: Server | null = null;
  url = "";

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const sig = req.headers["stripe-signature"];
        this.received.push({
          body: Buffer.concat(chunks).toString("utf8"),
          signature: typeof sig === "string" ? sig : "",
        });
        res.writeHead(this.status(this.received.length));
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  events(): Stripe.Event[] {
    return this.received.map((r) => JSON.parse(r.body) as Stripe.Event);
  }

  types(): string[] {
    return this.events().map((e) => e.type);
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }
}

export interface Harness {
  emulator: StripeEmulator;
  stripe: Stripe;
  receiver: Receiver;
  /** Between tests: let deliveries finish, drop state and what the receiver saw. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function harness(opts: StripeEmulatorOptions = {}): Promise<Harness> {
  const receiver = new Receiver();
  await receiver.start();
  const emulator = await startStripeEmulator({
    webhooks: [{ url: receiver.url }],
    deliveryRetryDelaysMs: [20, 40],
    ...opts,
  });
  const stripe = new Stripe("sk_test_emulator", {
    host: emulator.host,
    port: emulator.port,
    protocol: "http",
    apiVersion: "2026-10-28.endive",
    maxNetworkRetries: 0,
  });
  return {
    emulator,
    stripe,
    receiver,
    reset: async () => {
      await emulator.idle();
      emulator.reset();
      receiver.received = [];
      receiver.status = () => 200;
    },
    close: async () => {
      await emulator.close();
      await receiver.close();
    },
  };
}

export const DAY = 86_400;

export async function customerWithCard(stripe: Stripe, card = "pm_card_visa") {
  const customer = await stripe.customers.create({ email: `u${Math.random()}@example.com` });
  const pm = await stripe.paymentMethods.attach(card, { customer: customer.id });
  await stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  return { customer, pm };
}

export async function monthlyPrice(stripe: Stripe, amount = 1000, currency = "usd") {
  const product = await stripe.products.create({ name: "Pro" });
  return stripe.prices.create({
    product: product.id,
    unit_amount: amount,
    currency,
    recurring: { interval: "month" },
  });
}

export interface SubscribedOptions {
  /** The test card the customer pays with (default pm_card_visa). */
  card?: string;
  /** The monthly price's amount in the currency's smallest unit (default 1000). */
  amount?: number;
  currency?: string;
  /** Anything else for subscriptions.create: payment_behavior, trial_period_days, expand… */
  params?: Omit<Stripe.SubscriptionCreateParams, "customer" | "items">;
}

/**
 * A customer with a default card, subscribed to a new monthly price: where most contract tests
 * start. The subscription is as `subscriptions.create` answered it (with `params.expand` applied).
 */
export async function subscribed(stripe: Stripe, options: SubscribedOptions = {}) {
  const { customer, pm } = await customerWithCard(stripe, options.card);
  const price = await monthlyPrice(stripe, options.amount, options.currency);
  const sub = await stripe.subscriptions.create({
    ...options.params,
    customer: customer.id,
    items: [{ price: price.id }],
  });
  return { customer, pm, price, sub };
}
