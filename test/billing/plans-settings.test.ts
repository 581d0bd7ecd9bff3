import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { billingCommands } from "../../src/billing/billing-cli.ts";
import { plans } from "../../src/billing/billing-tables.ts";
import { seedDemoPlans } from "../../src/billing/demo-plans.ts";
import { entitlementsOfPrice } from "../../src/billing/plan-entitlements.ts";
import { settingsOfPrice } from "../../src/billing/plan-settings.ts";
import { createStripeClient } from "../../src/billing/stripe-client.ts";
import { startStripeEmulator } from "../../stripe-emulator/index.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";
import { runCommand } from "../helpers/commands.ts";

// The plans commands run on the test app's services (its database and its emulator, which the
// tests also drive as Stripe's dashboard), parsed and failing as `npm run cli` does (src/cli.ts).

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ worker: false });
});
after(() => t?.close());

const cli = (name: string, args: string[]) => runCommand(t, billingCommands, name, args);

/** A product and price made in Stripe (as in its dashboard), not registered as a plan. */
async function price(options: {
  amount?: number;
  interval?: "month" | "year";
  metadata?: Record<string, string>;
  trialPeriodDays?: number;
}) {
  const product = await t.stripe.products.create({
    name: `Plan ${randomBytes(3).toString("hex")}`,
  });
  return t.stripe.prices.create({
    product: product.id,
    unit_amount: options.amount ?? 1500,
    currency: "usd",
    recurring: {
      interval: options.interval ?? "month",
      ...(options.trialPeriodDays === undefined
        ? {}
        : { trial_period_days: options.trialPeriodDays }),
    },
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
}

async function planRow(priceId: string) {
  const [row] = await t.services.database.db
    .select()
    .from(plans)
    .where(eq(plans.stripePriceId, priceId));
  assert.ok(row, priceId);
  return row;
}

const settings = (row: Awaited<ReturnType<typeof planRow>>) => ({
  trial: row.trialDays,
  perSeat: row.perSeat,
  min: row.minQuantity,
  max: row.maxQuantity,
});

async function metadataOf(priceId: string) {
  return (await t.stripe.prices.retrieve(priceId)).metadata;
}

/** A plan as the plans list shows it, from whichever page it is on. */
async function listed(planId: string) {
  const buyer = await t.signUp();
  for (let page = 1; ; page++) {
    const res = await t.http("GET", `/api/subscriptions/plans/?page=${page}`, {
      token: buyer.token,
    });
    assert.equal(res.status, 200, planId);
    const found = res.body.results.find((p: { id: string }) => p.id === planId);
    if (found) return found;
    assert.ok(res.body.next, `${planId} is not listed`);
  }
}

describe("plans:create", () => {
  test("reads the trial and seats a price's metadata carries, and writes nothing back", async () => {
    const p = await price({ metadata: { trial_days: "7", per_seat: "true", max_quantity: "20" } });
    const created = await cli("plans:create", ["--name", "Team", "--price", p.id]);
    assert.equal(created.code, 0, created.out);
    assert.match(created.out, /\t7-day trial\tper seat 1\.\.20\t/);
    const row = await planRow(p.id);
    assert.deepEqual(settings(row), { trial: 7, perSeat: true, min: 1, max: 20 });
    assert.deepEqual(await metadataOf(p.id), {
      trial_days: "7",
      per_seat: "true",
      max_quantity: "20",
    });
  });

  test("flags set the settings at Stripe first, shown in the plans list with the monthly amount", async () => {
    const p = await price({ amount: 30000, interval: "year" });
    const created = await cli("plans:create", [
      "--name",
      "Seats",
      "--price",
      p.id,
      "--trial-days",
      "14",
      "--per-seat",
      "true",
      "--min-quantity",
      "2",
      "--max-quantity",
      "10",
    ]);
    assert.equal(created.code, 0, created.out);
    assert.deepEqual(await metadataOf(p.id), {
      trial_days: "14",
      per_seat: "true",
      min_quantity: "2",
      max_quantity: "10",
    });
    const row = await planRow(p.id);
    assert.deepEqual(await listed(row.id), {
      id: row.id,
      name: "Seats",
      description: "",
      stripe_price_id: p.id,
      amount: "300.00",
      currency: "usd",
      interval: "year",
      features: [],
      monthly_amount: "25.00",
      trial_days: 14,
      per_seat: true,
      min_quantity: 2,
      max_quantity: 10,
      entitlements: {},
    });
  });

  test("a plan with no settings lists no trial, one seat and no maximum", async () => {
    const plan = await t.plan({ amount: 29000, interval: "year" });
    const body = await listed(plan.id);
    assert.deepEqual(
      [body.monthly_amount, body.trial_days, body.per_seat, body.min_quantity, body.max_quantity],
      ["24.17", 0, false, 1, null],
    );
  });

  test("bad settings are usage errors that register nothing", async () => {
    const p = await price({});
    for (const [args, message] of [
      [["--trial-days", "731"], /trial_days must be a whole number from 0 to 730/],
      [["--trial-days=-1"], /--trial-days must be a whole number/],
      [["--per-seat", "yes"], /--per-seat must be true or false/],
      [
        ["--per-seat", "true", "--min-quantity", "0"],
        /min_quantity must be a whole number of at least 1/,
      ],
      [
        ["--per-seat", "true", "--min-quantity", "5", "--max-quantity", "3"],
        /max_quantity \(3\) is below min_quantity \(5\)/,
      ],
      [["--max-quantity", "3"], /min_quantity and max_quantity need per_seat true/],
    ] as const) {
      const res = await cli("plans:create", ["--name", "Bad", "--price", p.id, ...args]);
      assert.equal(res.code, 2, args.join(" "));
      assert.match(res.out, message);
    }
    const rows = await t.services.database.db
      .select()
      .from(plans)
      .where(eq(plans.stripePriceId, p.id));
    assert.deepEqual(rows, []);
    assert.deepEqual(await metadataOf(p.id), {});
  });

  test("a price whose metadata cannot be read is refused unless the flags replace it", async () => {
    const p = await price({ metadata: { trial_days: "two weeks" } });
    const refused = await cli("plans:create", ["--name", "Odd", "--price", p.id]);
    assert.equal(refused.code, 2);
    assert.match(refused.out, /trial_days must be a whole number, not "two weeks"/);
    const fixed = await cli("plans:create", [
      "--name",
      "Odd",
      "--price",
      p.id,
      "--trial-days",
      "3",
    ]);
    assert.equal(fixed.code, 0, fixed.out);
    assert.equal((await planRow(p.id)).trialDays, 3);
    assert.equal((await metadataOf(p.id)).trial_days, "3");
  });
});

describe("plans:set", () => {
  test("changes the settings at Stripe, then the plan, by plan id or price id", async () => {
    const plan = await t.plan({});
    const trial = await cli("plans:set", [plan.id, "--trial-days", "30"]);
    assert.equal(trial.code, 0, trial.out);
    assert.match(trial.out, /\t30-day trial\t-\t/);
    assert.equal((await metadataOf(plan.stripe_price_id)).trial_days, "30");

    const seats = await cli("plans:set", [
      plan.stripe_price_id,
      "--per-seat",
      "true",
      "--max-quantity",
      "5",
    ]);
    assert.equal(seats.code, 0, seats.out);
    assert.deepEqual(settings(await planRow(plan.stripe_price_id)), {
      trial: 30,
      perSeat: true,
      min: 1,
      max: 5,
    });
    assert.equal((await metadataOf(plan.stripe_price_id)).max_quantity, "5");

    const unbounded = await cli("plans:set", [plan.id, "--max-quantity", "none"]);
    assert.equal(unbounded.code, 0, unbounded.out);
    assert.equal((await planRow(plan.stripe_price_id)).maxQuantity, null);
    assert.equal((await metadataOf(plan.stripe_price_id)).max_quantity, undefined);

    await cli("plans:set", [plan.id, "--min-quantity", "3"]);
    const off = await cli("plans:set", [plan.id, "--per-seat", "false"]);
    assert.equal(off.code, 0, off.out);
    assert.deepEqual(settings(await planRow(plan.stripe_price_id)), {
      trial: 30,
      perSeat: false,
      min: 1,
      max: null,
    });
    assert.deepEqual(await metadataOf(plan.stripe_price_id), {
      trial_days: "30",
      per_seat: "false",
      min_quantity: "1",
    });
    assert.equal((await listed(plan.id)).trial_days, 30);
  });

  test("bad input is a usage error that changes nothing at Stripe or in the plan", async () => {
    const plan = await t.plan({});
    await cli("plans:set", [
      plan.id,
      "--per-seat",
      "true",
      "--min-quantity",
      "2",
      "--max-quantity",
      "4",
    ]);
    const before = await planRow(plan.stripe_price_id);
    const stripeBefore = await metadataOf(plan.stripe_price_id);
    for (const [args, message] of [
      [[plan.id], /nothing to change/],
      [["--trial-days", "3"], /a plan id or Stripe price id is required/],
      [["price_nope", "--trial-days", "3"], /no plan price_nope/],
      [[plan.id, "--trial-days", "1e3"], /--trial-days must be a whole number/],
      [[plan.id, "--max-quantity", "1"], /max_quantity \(1\) is below min_quantity \(2\)/],
      [[plan.id, "--max-quantity", "many"], /--max-quantity must be a whole number or "none"/],
      [[plan.id, "--trial", "3"], /Unknown option '--trial'/],
    ] as const) {
      const res = await cli("plans:set", [...args]);
      assert.equal(res.code, 2, args.join(" "));
      assert.match(res.out, message);
    }
    assert.deepEqual(await planRow(plan.stripe_price_id), before);
    assert.deepEqual(await metadataOf(plan.stripe_price_id), stripeBefore);
  });
});

describe("plans:sync", () => {
  test("mirrors the metadata, counts a legacy trial_period_days, and skips unreadable metadata without deactivating", async () => {
    const legacy = await price({ trialPeriodDays: 10 });
    const seats = await price({ metadata: { per_seat: "true", min_quantity: "3" } });
    const ignored = await price({ metadata: { min_quantity: "4" } });
    const odd = await t.plan({});
    await t.stripe.prices.update(odd.stripe_price_id, { metadata: { per_seat: "sometimes" } });

    const first = await cli("plans:sync", []);
    assert.equal(first.code, 1, first.out);
    assert.match(
      first.out,
      new RegExp(
        `^skipped ${odd.stripe_price_id}: per_seat must be true or false, not "sometimes"$`,
        "m",
      ),
    );
    assert.match(first.out, /plan\(s\) synced, 0 deactivated, 1 skipped$/);
    assert.deepEqual(settings(await planRow(legacy.id)), {
      trial: 10,
      perSeat: false,
      min: 1,
      max: null,
    });
    assert.deepEqual(settings(await planRow(seats.id)), {
      trial: 0,
      perSeat: true,
      min: 3,
      max: null,
    });
    // A seat range on a price that is not per seat means nothing.
    assert.deepEqual(settings(await planRow(ignored.id)), {
      trial: 0,
      perSeat: false,
      min: 1,
      max: null,
    });
    const kept = await planRow(odd.stripe_price_id);
    assert.equal(kept.isActive, true);
    assert.equal(kept.perSeat, false);

    // Fixed in the dashboard: the next sync takes it, and a metadata trial wins over the legacy one.
    await t.stripe.prices.update(odd.stripe_price_id, { metadata: { per_seat: "true" } });
    await t.stripe.prices.update(legacy.id, { metadata: { trial_days: "0" } });
    const second = await cli("plans:sync", []);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /0 deactivated, 0 skipped$/);
    assert.equal((await planRow(odd.stripe_price_id)).perSeat, true);
    assert.equal((await planRow(legacy.id)).trialDays, 0);
  });
});

describe("demo plans", () => {
  test("Pro has a 14-day trial and 1 to 50 seats, Starter neither; each grants its entitlements", async () => {
    // A plan exists, so seeding only gives the fresh emulator its catalog (it syncs an empty database only).
    await t.plan({});
    const emulator = await startStripeEmulator({});
    try {
      const stripe = createStripeClient("sk_test_demo_plans", emulator.url);
      await seedDemoPlans(t.services.database.db, stripe, t.services.logger);
      const prices = await stripe.prices.list({ expand: ["data.product"], limit: 10 });
      const byName = prices.data.map((p) => {
        const product = p.product as { name: string };
        return [`${product.name}/${p.recurring?.interval}`, settingsOfPrice(p).settings];
      });
      const pro = { trialDays: 14, perSeat: true, minQuantity: 1, maxQuantity: 50 };
      assert.deepEqual(Object.fromEntries(byName), {
        "Starter/month": { trialDays: 0, perSeat: false, minQuantity: 1, maxQuantity: null },
        "Pro/month": pro,
        "Pro/year": pro,
      });
      // Each grants what its features list says, so `access/?feature=…` answers out of the box.
      const granted = prices.data.map((p) => {
        const product = p.product as { name: string };
        return [`${product.name}/${p.recurring?.interval}`, entitlementsOfPrice(p).entitlements];
      });
      const proGrants = {
        projects: 1000,
        storage_gb: 100,
        api_access: true,
        priority_support: true,
      };
      assert.deepEqual(Object.fromEntries(granted), {
        "Starter/month": {
          projects: 5,
          storage_gb: 10,
          api_access: false,
          priority_support: false,
        },
        "Pro/month": proGrants,
        "Pro/year": proGrants,
      });
    } finally {
      await emulator.close();
    }
  });
});
