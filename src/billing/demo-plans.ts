import type Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import type { Logger } from "../platform/logging.ts";
import { type Entitlements, entitlementsMetadata } from "./plan-entitlements.ts";
import {
  changeSettings,
  DEFAULT_SETTINGS,
  type PlanSettings,
  settingsMetadata,
} from "./plan-settings.ts";
import { countPlans, syncPlans } from "./plans-service.ts";

interface DemoProduct {
  key: string;
  name: string;
  description: string;
  features: string[];
  prices: { amount: number; interval: "month" | "year" }[];
  /** Trial and seats of every price of the product (docs/plans.md). */
  settings?: Partial<PlanSettings>;
  /** What every price of the product grants (docs/access.md), matching `features`. */
  entitlements: Entitlements;
}

/** What the embedded default sells on first start (amounts in cents). */
const DEMO: DemoProduct[] = [
  {
    key: "starter",
    name: "Starter",
    description: "For individuals getting started.",
    features: ["5 projects", "10 GB storage", "Email support"],
    prices: [{ amount: 999, interval: "month" }],
    entitlements: { projects: 5, storage_gb: 10, api_access: false, priority_support: false },
  },
  {
    key: "pro",
    name: "Pro",
    description: "For growing teams.",
    features: ["1,000 projects", "100 GB storage", "API access", "Priority support"],
    prices: [
      { amount: 2900, interval: "month" },
      { amount: 29000, interval: "year" },
    ],
    settings: { trialDays: 14, perSeat: true, minQuantity: 1, maxQuantity: 50 },
    entitlements: { projects: 1000, storage_gb: 100, api_access: true, priority_support: true },
  },
];

/** The price metadata that carries `demo`'s settings and entitlements; keys of unset values left out. */
function metadataOf(demo: DemoProduct): Record<string, string> {
  const all = {
    ...settingsMetadata(changeSettings(DEFAULT_SETTINGS, demo.settings ?? {})),
    ...entitlementsMetadata(demo.entitlements),
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== ""));
}

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
            metadata: metadataOf(demo),
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
