import type Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import type { Logger } from "../platform/logging.ts";
import { countPlans, syncPlans } from "./plans-service.ts";

interface DemoProduct {
  key: string;
  name: string;
  description: string;
  features: string[];
  prices: { amount: number; interval: "month" | "year" }[];
}

/** What the embedded default sells on first start (amounts in cents). */
const DEMO: DemoProduct[] = [
  {
    key: "starter",
    name: "Starter",
    description: "For individuals getting started.",
    features: ["5 projects", "10 GB storage", "Email support"],
    prices: [{ amount: 999, interval: "month" }],
  },
  {
    key: "pro",
    name: "Pro",
    description: "For growing teams.",
    features: ["Unlimited projects", "100 GB storage", "Priority support"],
    prices: [
      { amount: 2900, interval: "month" },
      { amount: 29000, interval: "year" },
    ],
  },
];

/**
 * Embedded default only: on first start the emulator gets the demo catalog and the database
 * its plans, so `npm start` has something to subscribe to. Idempotency keys make a start that
 * crashed half-way finish the same catalog instead of a second one; later starts change nothing.
 */
export async function seedDemoPlans(db: Executor, stripe: Stripe, logger: Logger): Promise<void> {
  const existing = await stripe.prices.list({ active: true, limit: 1 });
  if (existing.data.length === 0) {
    for (const demo of DEMO) {
      const product = await stripe.products.create(
        {
          name: demo.name,
          description: demo.description,
          marketing_features: demo.features.map((name) => ({ name })),
        },
        { idempotencyKey: `demo:product:${demo.key}` },
      );
      for (const price of demo.prices) {
        await stripe.prices.create(
          {
            product: product.id,
            unit_amount: price.amount,
            currency: "usd",
            recurring: { interval: price.interval },
            lookup_key: `${demo.key}_${price.interval}ly`,
          },
          { idempotencyKey: `demo:price:${demo.key}:${price.interval}` },
        );
      }
    }
  }
  if ((await countPlans(db)) > 0) return;
  const { upserted } = await syncPlans(db, stripe);
  logger.info({ plans: upserted.map((p) => `${p.name}/${p.interval}`) }, "demo plans seeded");
}
