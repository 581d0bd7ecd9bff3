import Stripe from "stripe";
import { recordAudit } from "../audit/index.ts";
import {
  type CatalogEdit,
  createCatalogPlan,
  deactivatePlan,
  editCatalogPlan,
  findPlan,
  listAllPlans,
  type NewCatalogPlan,
  type PlanRow as Plan,
  type PlanBody,
  planBody,
  syncPlans,
} from "../billing/index.ts";
import type { Db } from "../platform/db/client.ts";
import { AppError, UsageError } from "../platform/errors.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";

// The plan catalog for staff: what `plans:create`, `plans:set`, `plans:deactivate` and
// `plans:sync` do from the CLI, over HTTP, through the same billing services. Stripe is written
// first, then our rows, so `plans:sync` never undoes a change made here. Each action is audited.

export interface AdminPlansDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
}

export interface AdminPlanBody extends PlanBody {
  is_active: boolean;
  stripe_product_id: string;
}

export function adminPlanBody(plan: Plan): AdminPlanBody {
  return { ...planBody(plan), is_active: plan.isActive, stripe_product_id: plan.stripeProductId };
}

/** Every plan, active first; pages are cut here (a catalog is short). */
export async function listAdminPlans(
  deps: Pick<AdminPlansDeps, "db">,
  page: { limit: number; offset: number },
): Promise<{ count: number; results: AdminPlanBody[] }> {
  const all = await listAllPlans(deps.db);
  return {
    count: all.length,
    results: all.slice(page.offset, page.offset + page.limit).map(adminPlanBody),
  };
}

/**
 * Runs a catalog action, turning what Stripe or the plan rules refuse into a 400: an operator's
 * mistake (a bad amount, settings that contradict each other), never a 500.
 */
async function refusalsAs400<T>(deps: AdminPlansDeps, action: string, run: () => Promise<T>) {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof UsageError) throw businessError("invalid", err.message);
    if (err instanceof Stripe.errors.StripeError) {
      deps.logger.warn({ err }, `admin ${action}: refused by Stripe`);
      throw businessError("invalid", `Stripe refused the change: ${err.message}`);
    }
    throw err;
  }
}

async function audit(deps: AdminPlansDeps, kind: string, plan: Plan, before = {}, after = {}) {
  await deps.db.transaction((tx) =>
    recordAudit(tx, [{ userId: null, kind, subjectId: plan.id, before, after }]),
  );
}

/**
 * A new plan: a Stripe product and price, registered as a plan. `key` (the request's
 * Idempotency-Key, else one per request) makes a retried request create them once.
 */
export async function createAdminPlan(
  deps: AdminPlansDeps,
  input: NewCatalogPlan,
  key: string,
): Promise<AdminPlanBody> {
  const plan = await refusalsAs400(deps, "plan create", () =>
    createCatalogPlan(deps.db, deps.stripe, input, key),
  );
  await audit(
    deps,
    "admin.plan_created",
    plan,
    {},
    {
      name: plan.name,
      stripe_price_id: plan.stripePriceId,
      amount: plan.amount,
      currency: plan.currency,
      interval: plan.interval,
    },
  );
  return adminPlanBody(plan);
}

const notFound = () => businessError("not_found", "Plan not found.");

/** Renames a plan, changes its description, features or entitlements. */
export async function editAdminPlan(
  deps: AdminPlansDeps,
  id: string,
  edit: CatalogEdit,
): Promise<AdminPlanBody> {
  const before = await findPlan(deps.db, id);
  if (!before) throw notFound();
  const plan = await refusalsAs400(deps, "plan edit", () =>
    editCatalogPlan(deps.db, deps.stripe, id, edit),
  );
  if (!plan) throw notFound();
  const changed = Object.keys(edit).filter(
    (k) => edit[k as keyof CatalogEdit] !== undefined,
  ) as (keyof CatalogEdit)[];
  await audit(
    deps,
    "admin.plan_updated",
    plan,
    Object.fromEntries(changed.map((k) => [k, before[k]])),
    Object.fromEntries(changed.map((k) => [k, plan[k]])),
  );
  return adminPlanBody(plan);
}

/** Stops selling a plan (its Stripe price is archived); its subscriptions keep running. */
export async function deactivateAdminPlan(
  deps: AdminPlansDeps,
  id: string,
): Promise<AdminPlanBody> {
  const before = await findPlan(deps.db, id);
  if (!before) throw notFound();
  const plan = await refusalsAs400(deps, "plan deactivate", () =>
    deactivatePlan(deps.db, deps.stripe, id),
  );
  if (before.isActive) {
    await audit(deps, "admin.plan_deactivated", plan, { is_active: true }, { is_active: false });
  }
  return adminPlanBody(plan);
}

/** Mirrors Stripe's active recurring prices as plans, as `plans:sync` does. */
export async function syncAdminPlans(deps: AdminPlansDeps) {
  const { upserted, deactivated, skipped } = await refusalsAs400(deps, "plan sync", () =>
    syncPlans(deps.db, deps.stripe),
  );
  await deps.db.transaction((tx) =>
    recordAudit(tx, [
      {
        userId: null,
        kind: "admin.plans_synced",
        after: {
          synced: upserted.map((p) => p.stripePriceId),
          deactivated,
          skipped: skipped.map((s) => s.priceId),
        },
      },
    ]),
  );
  return {
    synced: upserted.map(adminPlanBody),
    deactivated,
    skipped: skipped.map((s) => ({ stripe_price_id: s.priceId, problems: s.problems })),
  };
}
