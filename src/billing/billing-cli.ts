import { UsageError } from "../platform/errors.ts";
import type { Command } from "../platform/feature.ts";
import { seedDemoPlans } from "./demo-plans.ts";
import { formatMinor } from "./money.ts";
import {
  ENTITLEMENTS_KEY,
  type Entitlements,
  entitlementsMetadata,
  parseEntitlements,
} from "./plan-entitlements.ts";
import { type PlanSettings, parseCount, parseFlag } from "./plan-settings.ts";
import {
  createPlan,
  deactivatePlan,
  listAllPlans,
  type Plan,
  syncPlans,
  updatePlanSettings,
} from "./plans-service.ts";

function seats(p: Plan): string {
  return p.perSeat ? `per seat ${p.minQuantity}..${p.maxQuantity ?? "any"}` : "-";
}

function row(p: Plan): string {
  return [
    p.id,
    p.isActive ? "active" : "inactive",
    p.name,
    `${formatMinor(p.amount, p.currency)} ${p.currency}/${p.interval}`,
    p.trialDays > 0 ? `${p.trialDays}-day trial` : "-",
    seats(p),
    p.stripePriceId,
    p.features.join(", ") || "-",
    // As written to Stripe: compact, keys sorted (jsonb keeps its own order).
    entitlementsMetadata(p.entitlements)[ENTITLEMENTS_KEY] || "-",
  ].join("\t");
}

const HEADER = [
  "id",
  "state",
  "name",
  "price",
  "trial",
  "seats",
  "stripe_price_id",
  "features",
  "entitlements",
];

const str = (v: string | boolean | undefined): string | undefined =>
  typeof v === "string" ? v : undefined;

const SETTINGS_USAGE =
  "[--trial-days 0..730] [--per-seat true|false] [--min-quantity N] [--max-quantity N|none] [--entitlements JSON]";

const settingsOptions = {
  entitlements: { type: "string" },
  "trial-days": { type: "string" },
  "per-seat": { type: "string" },
  "min-quantity": { type: "string" },
  "max-quantity": { type: "string" },
} as const;

/** The trial and seat settings an operator typed; only the named ones, for a partial change. */
function settingsOf(values: Record<string, string | boolean | undefined>): Partial<PlanSettings> {
  const change: Partial<PlanSettings> = {};
  try {
    const trial = str(values["trial-days"]);
    if (trial !== undefined) change.trialDays = parseCount(trial, "--trial-days") ?? 0;
    const perSeat = str(values["per-seat"]);
    if (perSeat !== undefined) change.perSeat = parseFlag(perSeat, "--per-seat");
    const min = str(values["min-quantity"]);
    if (min !== undefined) change.minQuantity = parseCount(min, "--min-quantity") ?? 1;
    const max = str(values["max-quantity"]);
    if (max !== undefined) change.maxQuantity = parseCount(max, "--max-quantity", true);
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  return change;
}

/** `--entitlements '{"projects": 10, "api_access": true}'`: the whole set; `'{}'` for none. */
function entitlementsOf(
  values: Record<string, string | boolean | undefined>,
): Entitlements | undefined {
  const text = str(values.entitlements);
  if (text === undefined) return undefined;
  if (text.trim() === "")
    throw new UsageError('--entitlements takes a JSON object ("{}" for none)');
  const read = parseEntitlements(text);
  if (!read.entitlements) throw new UsageError(`--entitlements: ${read.problems.join("; ")}`);
  return read.entitlements;
}

export const billingCommands: Record<string, Command> = {
  "plans:list": {
    summary: "List plans (active first)",
    services: true,
    async run({ services, out }) {
      if (!services) throw new Error("plans:list needs services");
      const plans = await listAllPlans(services.database.db);
      if (plans.length === 0) out("no plans");
      else out(HEADER.join("\t"));
      for (const p of plans) out(row(p));
      return 0;
    },
  },
  "plans:create": {
    summary: "Register a Stripe recurring price as a plan (checked against Stripe)",
    usage: `plans:create --name NAME --price PRICE_ID [--amount 9.99] [--currency usd] [--interval month|year] [--features "a,b,c"] [--description TEXT] ${SETTINGS_USAGE}`,
    options: {
      ...settingsOptions,
      name: { type: "string" },
      price: { type: "string" },
      amount: { type: "string" },
      currency: { type: "string" },
      interval: { type: "string" },
      features: { type: "string" },
      description: { type: "string" },
    },
    services: true,
    async run({ services, values, out }) {
      if (!services) throw new Error("plans:create needs services");
      const name = str(values.name);
      const priceId = str(values.price);
      if (!name || !priceId) throw new UsageError("--name and --price are required");
      const interval = str(values.interval);
      if (interval && interval !== "month" && interval !== "year") {
        throw new UsageError("--interval must be month or year");
      }
      const plan = await createPlan(services.database.db, services.stripe.stripe, {
        name,
        priceId,
        amount: str(values.amount),
        currency: str(values.currency),
        interval,
        description: str(values.description),
        settings: settingsOf(values),
        entitlements: entitlementsOf(values),
        features: (str(values.features) ?? "")
          .split(",")
          .map((f) => f.trim())
          .filter(Boolean),
      });
      out(row(plan));
      return 0;
    },
  },
  "plans:deactivate": {
    summary: "Stop selling a plan (its Stripe price is archived; subscriptions keep running)",
    usage: "plans:deactivate <plan id | stripe price id>",
    services: true,
    async run({ services, positionals, out }) {
      if (!services) throw new Error("plans:deactivate needs services");
      const id = positionals[0];
      if (!id) throw new UsageError("a plan id or Stripe price id is required");
      out(row(await deactivatePlan(services.database.db, services.stripe.stripe, id)));
      return 0;
    },
  },
  "plans:set": {
    summary:
      "Change a plan's trial, seat or entitlement settings (written to its Stripe price's metadata, then the plan)",
    usage: `plans:set <plan id | stripe price id> ${SETTINGS_USAGE}`,
    options: settingsOptions,
    services: true,
    async run({ services, positionals, values, out }) {
      if (!services) throw new Error("plans:set needs services");
      const id = positionals[0];
      if (!id) throw new UsageError("a plan id or Stripe price id is required");
      const change = settingsOf(values);
      const entitlements = entitlementsOf(values);
      if (Object.keys(change).length === 0 && !entitlements) {
        throw new UsageError("nothing to change");
      }
      const { db } = services.database;
      out(row(await updatePlanSettings(db, services.stripe.stripe, id, change, entitlements)));
      return 0;
    },
  },
  "plans:demo": {
    summary:
      "Development: give an empty Stripe (the standalone emulator) the demo catalog and sync it as plans",
    services: true,
    async run({ config, services, logger, out }) {
      if (!services) throw new Error("plans:demo needs services");
      // The in-process emulator seeds itself; a standalone one (docker compose) starts empty.
      if (config.isProduction) throw new UsageError("plans:demo is for development only");
      await seedDemoPlans(services.database.db, services.stripe.stripe, logger);
      for (const p of await listAllPlans(services.database.db)) out(row(p));
      return 0;
    },
  },
  "plans:sync": {
    summary: "Upsert plans from Stripe's active recurring prices; deactivate the rest",
    services: true,
    async run({ services, out }) {
      if (!services) throw new Error("plans:sync needs services");
      const { upserted, deactivated, skipped } = await syncPlans(
        services.database.db,
        services.stripe.stripe,
      );
      for (const p of upserted) out(row(p));
      for (const s of skipped) out(`skipped ${s.priceId}: ${s.problems.join("; ")}`);
      out(
        `${upserted.length} plan(s) synced, ${deactivated} deactivated, ${skipped.length} skipped`,
      );
      // Non-zero so a deploy script notices a price left unmirrored.
      return skipped.length > 0 ? 1 : 0;
    },
  },
};
