import { eq } from "drizzle-orm";
import type Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import { type FieldErrors, validationError } from "../platform/http/errors.ts";
import { plans } from "./billing-tables.ts";
import { parseMajor } from "./money.ts";
import { type Entitlements, entitlementsMetadata, parseEntitlements } from "./plan-entitlements.ts";
import {
  changeSettings,
  DEFAULT_SETTINGS,
  type PlanSettings,
  settingsMetadata,
  settingsProblems,
} from "./plan-settings.ts";
import { createPlan, findPlan, type Plan } from "./plans-service.ts";

// The catalog as staff edit it (the admin API, src/admin/): a new plan is a new Stripe product and
// price, registered the way `plans:create` registers one; an edit writes Stripe first, then our
// rows, as `plans:set` does, so `plans:sync` (which mirrors Stripe) never undoes it.

export interface NewCatalogPlan {
  name: string;
  description?: string | undefined;
  /** Major units, as the API takes money ("9.99"). */
  amount: string;
  currency: string;
  interval: "month" | "year";
  features: string[];
  entitlements?: Entitlements | undefined;
  settings?: Partial<PlanSettings> | undefined;
}

/** 400 `{"<field>": [...]}` for everything wrong with a new plan, before Stripe is asked. */
function newPlanProblems(input: NewCatalogPlan): { amount: number; settings: PlanSettings } {
  const fields: FieldErrors = {};
  let amount = 0;
  try {
    amount = parseMajor(input.amount, input.currency);
    if (amount <= 0) fields.amount = ["Ensure this value is greater than 0."];
  } catch (err) {
    fields.amount = [err instanceof Error ? err.message : String(err)];
  }
  const settings = changeSettings(DEFAULT_SETTINGS, input.settings ?? {});
  const problems = settingsProblems(settings);
  if (problems.length > 0) fields.non_field_errors = problems;
  const entitlementProblems = entitlementsProblems(input.entitlements);
  if (entitlementProblems.length > 0) fields.entitlements = entitlementProblems;
  if (Object.keys(fields).length > 0) throw validationError(fields);
  return { amount, settings };
}

/** What `parseEntitlements` finds wrong with a set given as JSON (its length at Stripe, say). */
function entitlementsProblems(entitlements: Entitlements | undefined): string[] {
  if (entitlements === undefined) return [];
  return parseEntitlements(JSON.stringify(entitlements)).problems;
}

/**
 * Creates a Stripe product and a recurring price carrying the plan's settings and entitlements in
 * its metadata, then registers the price as a plan (`createPlan`, which reads it back). `key`
 * makes both Stripe writes idempotent: a retried request creates one product and one price.
 */
export async function createCatalogPlan(
  db: Executor,
  stripe: Stripe,
  input: NewCatalogPlan,
  key: string,
): Promise<Plan> {
  const { amount, settings } = newPlanProblems(input);
  const product = await stripe.products.create(
    {
      name: input.name,
      ...(input.description ? { description: input.description } : {}),
      marketing_features: input.features.map((name) => ({ name })),
    },
    { idempotencyKey: `plan-create:${key}:product` },
  );
  const metadata = Object.fromEntries(
    Object.entries({
      ...settingsMetadata(settings),
      ...entitlementsMetadata(input.entitlements ?? {}),
    }).filter(([, v]) => v !== ""),
  );
  const price = await stripe.prices.create(
    {
      product: product.id,
      unit_amount: amount,
      currency: input.currency.toLowerCase(),
      recurring: { interval: input.interval },
      metadata,
    },
    { idempotencyKey: `plan-create:${key}:price` },
  );
  return createPlan(db, stripe, {
    name: input.name,
    priceId: price.id,
    description: input.description,
    features: input.features,
  });
}

export interface CatalogEdit {
  name?: string | undefined;
  description?: string | undefined;
  features?: string[] | undefined;
  entitlements?: Entitlements | undefined;
}

/**
 * Renames a plan, changes its description or marketing features (its Stripe product's, so every
 * plan of that product changes, as `plans:sync` would make it) and replaces its entitlements (its
 * price's metadata). Answers the plan as it now is; undefined when there is no such plan.
 */
export async function editCatalogPlan(
  db: Executor,
  stripe: Stripe,
  id: string,
  edit: CatalogEdit,
): Promise<Plan | undefined> {
  const problems = entitlementsProblems(edit.entitlements);
  if (problems.length > 0) throw validationError({ entitlements: problems });
  const plan = await findPlan(db, id);
  if (!plan) return undefined;
  const product: Stripe.ProductUpdateParams = {
    ...(edit.name !== undefined ? { name: edit.name } : {}),
    ...(edit.description !== undefined ? { description: edit.description } : {}),
    ...(edit.features !== undefined
      ? { marketing_features: edit.features.map((name) => ({ name })) }
      : {}),
  };
  if (Object.keys(product).length > 0) {
    await stripe.products.update(plan.stripeProductId, product);
    await db
      .update(plans)
      .set({
        ...(edit.name !== undefined ? { name: edit.name } : {}),
        ...(edit.description !== undefined ? { description: edit.description } : {}),
        ...(edit.features !== undefined ? { features: edit.features } : {}),
        updatedAt: new Date(),
      })
      .where(eq(plans.stripeProductId, plan.stripeProductId));
  }
  if (edit.entitlements !== undefined) {
    await stripe.prices.update(plan.stripePriceId, {
      metadata: entitlementsMetadata(edit.entitlements),
    });
    await db
      .update(plans)
      .set({ entitlements: edit.entitlements, updatedAt: new Date() })
      .where(eq(plans.id, plan.id));
  }
  return findPlan(db, id);
}
