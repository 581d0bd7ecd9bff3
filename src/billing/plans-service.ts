import { and, asc, count, eq, inArray, not, sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { UsageError } from "../platform/errors.ts";
import { businessError } from "../platform/http/errors.ts";
import type { PageRequest } from "../platform/http/pagination.ts";
import { plans } from "./billing-tables.ts";
import { formatMinor, parseMajor } from "./money.ts";
import {
  type Entitlements,
  entitlementsMetadata,
  entitlementsOfPrice,
  sameEntitlements,
} from "./plan-entitlements.ts";
import { monthlyAmount } from "./plan-rank.ts";
import {
  changeSettings,
  DEFAULT_SETTINGS,
  type PlanSettings,
  sameSettings,
  settingsMetadata,
  settingsOfPrice,
  settingsProblems,
} from "./plan-settings.ts";

export type Plan = typeof plans.$inferSelect;

/** The public `plan` shape (docs/architecture.md, 'The HTTP contract'). */
export interface PlanBody {
  id: string;
  name: string;
  description: string;
  stripe_price_id: string;
  amount: string;
  currency: string;
  interval: string;
  features: string[];
  /** `amount` per month, rounded: the plan's rank (docs/plans.md, 'Rank'). */
  monthly_amount: string;
  trial_days: number;
  per_seat: boolean;
  min_quantity: number;
  max_quantity: number | null;
  /** What the plan grants (docs/access.md). */
  entitlements: Entitlements;
}

export function planBody(plan: Plan): PlanBody {
  return {
    id: plan.id,
    name: plan.name,
    description: plan.description,
    stripe_price_id: plan.stripePriceId,
    amount: formatMinor(plan.amount, plan.currency),
    currency: plan.currency,
    interval: plan.interval,
    features: plan.features,
    monthly_amount: formatMinor(monthlyAmount(plan), plan.currency),
    trial_days: plan.trialDays,
    per_seat: plan.perSeat,
    min_quantity: plan.minQuantity,
    max_quantity: plan.maxQuantity,
    entitlements: plan.entitlements,
  };
}

function settingsOf(plan: Plan): PlanSettings {
  const { trialDays, perSeat, minQuantity, maxQuantity } = plan;
  return { trialDays, perSeat, minQuantity, maxQuantity };
}

const INTERVALS = new Set(["month", "year"]);

/**
 * Active plans, cheapest first (ties by name, then id, so pages are stable), and how many there
 * are: one query, the count riding on every row (`count(*) over ()`). Only a page past the end,
 * which has no rows to carry it, asks for the count on its own.
 */
export async function listActivePlans(
  db: Executor,
  page: PageRequest,
): Promise<{ count: number; plans: Plan[] }> {
  const pageQuery = prepared(db, "active_plans_page", (e) =>
    e
      .select({ plan: plans, total: sql<number>`count(*) over ()`.mapWith(Number) })
      .from(plans)
      .where(eq(plans.isActive, true))
      .orderBy(asc(plans.amount), asc(plans.name), asc(plans.id))
      .limit(sql.placeholder("limit"))
      .offset(sql.placeholder("offset"))
      .prepare("active_plans_page"),
  );
  const rows = await pageQuery.execute({ limit: page.limit, offset: page.offset });
  if (rows[0]) return { count: rows[0].total, plans: rows.map((row) => row.plan) };
  const countQuery = prepared(db, "active_plans_count", (e) =>
    e
      .select({ n: count() })
      .from(plans)
      .where(eq(plans.isActive, true))
      .prepare("active_plans_count"),
  );
  const [total] = await countQuery.execute();
  return { count: total?.n ?? 0, plans: [] };
}

/** Every plan, active first, for operators. */
export async function listAllPlans(db: Executor): Promise<Plan[]> {
  const query = prepared(db, "all_plans", (e) =>
    e
      .select()
      .from(plans)
      .orderBy(sql`${plans.isActive} desc`, asc(plans.amount), asc(plans.name))
      .prepare("all_plans"),
  );
  return query.execute();
}

export async function getActivePlan(db: Executor, id: string): Promise<Plan> {
  const [plan] = await db
    .select()
    .from(plans)
    .where(and(eq(plans.id, id), eq(plans.isActive, true)));
  if (!plan) throw businessError("not_found", "Plan not found.");
  return plan;
}

export async function findPlan(db: Executor, id: string): Promise<Plan | undefined> {
  const query = prepared(db, "plan_by_id", (e) =>
    e
      .select()
      .from(plans)
      .where(eq(plans.id, sql.placeholder("id")))
      .prepare("plan_by_id"),
  );
  const [plan] = await query.execute({ id });
  return plan;
}

export interface PlanValues extends PlanSettings {
  name: string;
  description: string;
  stripePriceId: string;
  stripeProductId: string;
  amount: number;
  currency: string;
  interval: string;
  features: string[];
  isActive: boolean;
  entitlements: Entitlements;
}

/** Inserts or updates the plan of one Stripe price. */
export async function upsertPlan(db: Executor, values: PlanValues): Promise<Plan> {
  const [plan] = await db
    .insert(plans)
    .values(values)
    .onConflictDoUpdate({
      target: plans.stripePriceId,
      set: { ...values, updatedAt: new Date() },
    })
    .returning();
  if (!plan) throw new Error("plan upsert returned nothing");
  return plan;
}

export interface NewPlanInput {
  name: string;
  priceId: string;
  /** Major units as typed ("9.99"); checked against the price in Stripe. */
  amount?: string | undefined;
  currency?: string | undefined;
  interval?: string | undefined;
  features: string[];
  description?: string | undefined;
  /** Trial and seat settings to change; the rest are read from the price's metadata. */
  settings?: Partial<PlanSettings> | undefined;
  /** Replaces the entitlements the price's metadata carries. */
  entitlements?: Entitlements | undefined;
}

/**
 * The entitlements of a plan being registered: the given ones, written to the price's metadata
 * first when they differ (as settings are), or else the price's own. Unreadable metadata is
 * refused unless replaced.
 */
async function settleEntitlements(
  stripe: Stripe,
  price: Stripe.Price,
  given: Entitlements | undefined,
): Promise<Entitlements> {
  const read = entitlementsOfPrice(price);
  if (given === undefined) {
    if (!read.entitlements) {
      throw new UsageError(`price ${price.id} metadata: ${read.problems.join("; ")}`);
    }
    return read.entitlements;
  }
  if (!read.entitlements || !sameEntitlements(read.entitlements, given)) {
    await stripe.prices.update(price.id, { metadata: entitlementsMetadata(given) });
  }
  return given;
}

/**
 * The settings `change` makes of what `price` carries, written to the price's metadata first
 * when they differ, so Stripe (which `plans:sync` mirrors) never lags our row. A price whose
 * metadata cannot be read is refused unless the change overwrites it with valid settings.
 */
async function settleSettings(
  stripe: Stripe,
  price: Stripe.Price,
  change: Partial<PlanSettings>,
): Promise<PlanSettings> {
  const read = settingsOfPrice(price);
  const next = changeSettings(read.settings ?? DEFAULT_SETTINGS, change);
  const problems = settingsProblems(next);
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  if (!read.settings && Object.keys(change).length === 0) {
    throw new UsageError(`price ${price.id} metadata: ${read.problems.join("; ")}`);
  }
  if (!read.settings || !sameSettings(read.settings, next)) {
    await stripe.prices.update(price.id, { metadata: settingsMetadata(next) });
  }
  return next;
}

/**
 * `plans:create`: registers a Stripe price as a plan. The price is read from Stripe, so the
 * product id is filled in and an amount, currency or interval that disagrees with what Stripe
 * will charge is refused rather than shown to users.
 */
export async function createPlan(db: Executor, stripe: Stripe, input: NewPlanInput): Promise<Plan> {
  const price = await stripe.prices.retrieve(input.priceId);
  const interval = price.recurring?.interval;
  if (!interval || !INTERVALS.has(interval) || price.recurring?.interval_count !== 1) {
    throw new Error(`price ${price.id} is not a monthly or yearly recurring price`);
  }
  if (price.unit_amount === null) throw new Error(`price ${price.id} has no unit amount`);
  const problems: string[] = [];
  if (input.currency && input.currency.toLowerCase() !== price.currency) {
    problems.push(`currency is ${price.currency} in Stripe`);
  }
  if (
    input.amount !== undefined &&
    parseMajor(input.amount, price.currency) !== price.unit_amount
  ) {
    problems.push(`amount is ${formatMinor(price.unit_amount, price.currency)} in Stripe`);
  }
  if (input.interval && input.interval !== interval) problems.push(`interval is ${interval}`);
  if (problems.length > 0) throw new Error(`price ${price.id}: ${problems.join("; ")}`);
  const settings = await settleSettings(stripe, price, input.settings ?? {});
  const entitlements = await settleEntitlements(stripe, price, input.entitlements);
  return upsertPlan(db, {
    ...settings,
    entitlements,
    name: input.name,
    description: input.description ?? "",
    stripePriceId: price.id,
    stripeProductId: typeof price.product === "string" ? price.product : price.product.id,
    amount: price.unit_amount,
    currency: price.currency,
    interval,
    features: input.features,
    isActive: true,
  });
}

/**
 * `plans:deactivate`: stops selling a plan. The Stripe price is archived too, so `plans:sync`
 * (which mirrors Stripe) agrees; existing subscriptions keep running.
 */
export async function deactivatePlan(
  db: Executor,
  stripe: Stripe,
  idOrPriceId: string,
): Promise<Plan> {
  const plan = await planByIdOrPrice(db, idOrPriceId);
  await stripe.prices.update(
    plan.stripePriceId,
    { active: false },
    { idempotencyKey: `plan:${plan.id}:deactivate` },
  );
  const [updated] = await db
    .update(plans)
    .set({ isActive: false, updatedAt: new Date() })
    .where(eq(plans.id, plan.id))
    .returning();
  if (!updated) throw new Error("plan vanished");
  return updated;
}

/** The plan an operator named by its id or its Stripe price id. */
async function planByIdOrPrice(db: Executor, idOrPriceId: string): Promise<Plan> {
  const isUuid = /^[0-9a-f-]{36}$/i.test(idOrPriceId);
  const [plan] = await db
    .select()
    .from(plans)
    .where(isUuid ? eq(plans.id, idOrPriceId) : eq(plans.stripePriceId, idOrPriceId));
  if (!plan) throw new UsageError(`no plan ${idOrPriceId}`);
  return plan;
}

/**
 * `plans:set`: changes a plan's trial or seat settings, and replaces its entitlements when given.
 * Stripe's price metadata is written first (one update), then our row, so a crash in between
 * leaves Stripe ahead, which the next `plans:set` or `plans:sync` repairs; never our row claiming
 * what Stripe does not say.
 */
export async function updatePlanSettings(
  db: Executor,
  stripe: Stripe,
  idOrPriceId: string,
  change: Partial<PlanSettings>,
  entitlements?: Entitlements,
): Promise<Plan> {
  const plan = await planByIdOrPrice(db, idOrPriceId);
  const next = changeSettings(settingsOf(plan), change);
  const problems = settingsProblems(next);
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  const metadata = {
    ...settingsMetadata(next),
    ...(entitlements ? entitlementsMetadata(entitlements) : {}),
  };
  await stripe.prices.update(plan.stripePriceId, { metadata });
  const [updated] = await db
    .update(plans)
    .set({ ...next, ...(entitlements ? { entitlements } : {}), updatedAt: new Date() })
    .where(eq(plans.id, plan.id))
    .returning();
  if (!updated) throw new Error("plan vanished");
  return updated;
}

function productOf(price: Stripe.Price): Stripe.Product | undefined {
  return typeof price.product === "object" && !("deleted" in price.product && price.product.deleted)
    ? (price.product as Stripe.Product)
    : undefined;
}

/** A price `plans:sync` could not mirror, and why. */
export interface SkippedPrice {
  priceId: string;
  problems: string[];
}

/**
 * The plan values of a sellable price (monthly or yearly, one interval, a unit amount, a live
 * product), with the settings its metadata carries; undefined for a price we do not sell.
 */
function planValuesOf(price: Stripe.Price): PlanValues | SkippedPrice | undefined {
  const product = productOf(price);
  const interval = price.recurring?.interval;
  if (!product || !interval || !INTERVALS.has(interval) || price.unit_amount === null) return;
  if (price.recurring?.interval_count !== 1) return;
  const read = settingsOfPrice(price);
  const granted = entitlementsOfPrice(price);
  if (!read.settings || !granted.entitlements) {
    return { priceId: price.id, problems: [...read.problems, ...granted.problems] };
  }
  return {
    ...read.settings,
    entitlements: granted.entitlements,
    name: product.name,
    description: product.description ?? "",
    stripePriceId: price.id,
    stripeProductId: product.id,
    amount: price.unit_amount,
    currency: price.currency,
    interval,
    features: product.marketing_features.flatMap((f) => (f.name ? [f.name] : [])),
    isActive: product.active,
  };
}

/**
 * `plans:sync`: one plan per active monthly/yearly price in Stripe (name, description and
 * marketing features from its product, trial, seats and entitlements from its metadata); plans whose price is
 * no longer active are deactivated. A price whose metadata cannot be read is skipped and
 * reported, its plan left as it was: neither guessed settings nor a deactivation for a typo
 * made in the dashboard.
 */
export async function syncPlans(
  db: Executor,
  stripe: Stripe,
): Promise<{ upserted: Plan[]; deactivated: number; skipped: SkippedPrice[] }> {
  const upserted: Plan[] = [];
  const skipped: SkippedPrice[] = [];
  for await (const price of stripe.prices.list({
    active: true,
    type: "recurring",
    expand: ["data.product"],
    limit: 100,
  })) {
    const values = planValuesOf(price);
    if (!values) continue;
    if ("problems" in values) skipped.push(values);
    else upserted.push(await upsertPlan(db, values));
  }
  const keep = [...upserted.map((p) => p.stripePriceId), ...skipped.map((p) => p.priceId)];
  const stale = await db
    .update(plans)
    .set({ isActive: false, updatedAt: new Date() })
    .where(
      and(
        eq(plans.isActive, true),
        keep.length > 0 ? not(inArray(plans.stripePriceId, keep)) : undefined,
      ),
    )
    .returning({ id: plans.id });
  return { upserted, deactivated: stale.length, skipped };
}

export async function countPlans(db: Executor): Promise<number> {
  const [row] = await db.select({ n: count() }).from(plans);
  return row?.n ?? 0;
}
