import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { type Browser, chromium, type Page } from "playwright-core";
import { users } from "../../src/accounts/accounts-tables.ts";
import { createPlan, planBody } from "../../src/billing/plans-service.ts";
import { createFaults } from "../../stripe-emulator/faults.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";
import { waitFor } from "../helpers/wait.ts";

// The world the console's browser tests and its screenshot script (scripts/admin-console-
// screenshots.ts) work in: the real app and its emulator, a staff user, a user who is not staff,
// a paying customer, a customer in trial, and a Stripe event whose processing failed for good.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const PASSWORD = "correct-Horse-battery-9";
export const WAIT = { timeout: 30_000 };

export interface ConsoleWorld {
  t: BillingTestApp;
  browser: Browser;
  staff: Customer;
  notStaff: Customer;
  /** Subscribed to a paid plan: one succeeded payment. */
  payer: Customer;
  /** In a 7-day trial. */
  trialer: Customer;
  /** A `charge.refunded` event that failed for good. */
  failedEventId: string;
  close(): Promise<void>;
}

async function trialPlan(t: BillingTestApp, days: number) {
  const product = await t.stripe.products.create({
    name: `Team trial ${randomBytes(2).toString("hex")}`,
  });
  const price = await t.stripe.prices.create({
    product: product.id,
    unit_amount: 2900,
    currency: "usd",
    recurring: { interval: "month" },
  });
  const plan = await createPlan(t.services.database.db, t.stripe, {
    name: product.name,
    priceId: price.id,
    features: ["Everything", "Priority support"],
    settings: { trialDays: days },
  });
  return planBody(plan);
}

async function subscribed(t: BillingTestApp, planId: string): Promise<Customer> {
  const buyer = await t.signUp();
  const res = await t.subscribe(buyer, planId);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return buyer;
}

/**
 * A refund made at Stripe whose `charge.refunded` event fails for good: every read of the charge
 * answers 500 until the faults are cleared (WEBHOOK_RETRY_LIMIT 1: two attempts).
 */
async function failedEvent(
  t: BillingTestApp,
  faults: ReturnType<typeof createFaults>,
  staff: Customer,
) {
  const buyer = await subscribed(t, (await t.plan({ name: "Starter", amount: 900 })).id);
  await t.settle();
  const [paid] = await t.paymentsOf(buyer.userId);
  assert.ok(paid?.stripeChargeId);
  faults.inject({ method: "GET", path: /^\/v1\/charges\//, fault: "500", times: 1_000 });
  await t.stripe.refunds.create({ charge: paid.stripeChargeId });
  const id = await waitFor(
    async () => {
      const res = await t.http(
        "GET",
        "/api/admin/webhooks/events/?type=charge.refunded&status=failed",
        {
          token: staff.token,
        },
      );
      return res.body.results[0]?.id as string | undefined;
    },
    { what: "the charge.refunded event to fail", timeoutMs: 60_000 },
  );
  faults.clear();
  return id;
}

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const faults = createFaults();
  const t = await startBillingApp({
    stages: [faults.stage],
    env: { THROTTLE_ADMIN: "100000/min", THROTTLE_LOGIN_IP: "100000/min" },
  });
  try {
    const staff = await t.signUp();
    await t.services.database.db
      .update(users)
      .set({ isStaff: true })
      .where(eq(users.id, staff.userId));
    const notStaff = await t.signUp();
    const pro = await t.plan({ name: "Pro", amount: 2900 });
    const payer = await subscribed(t, pro.id);
    const trialer = await subscribed(t, (await trialPlan(t, 7)).id);
    const failedEventId = await failedEvent(t, faults, staff);
    await t.settle();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    return {
      t,
      browser,
      staff,
      notStaff,
      payer,
      trialer,
      failedEventId,
      async close() {
        await browser.close();
        await t.close();
      },
    };
  } catch (err) {
    await t.close();
    throw err;
  }
}

export const chromiumMissing = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

/** Signs in on the console's page as `who`; waits for the page after sign-in (`heading`). */
export async function signIn(page: Page, url: string, who: Customer, heading = "Overview") {
  await page.goto(`${url}/admin/`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: heading }).waitFor(WAIT);
}

export type Step = (what: string, fn: () => Promise<void>) => Promise<void>;

/**
 * Runs a test's steps on a fresh page of `width`. The page may reach only this machine; a page
 * error or a console error (a CSP violation included) fails the test. Each step leaves a
 * screenshot in a temporary directory, kept and its path printed when the test fails.
 */
export async function journey(
  browser: Browser,
  name: string,
  steps: (step: Step, page: Page) => Promise<void>,
  { width = 1280, allowConsoleErrors = false } = {},
) {
  const shots = await mkdtemp(join(tmpdir(), `admin-console-screenshots-${name}-`));
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  await page.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === "127.0.0.1" || host === "localhost") return route.continue();
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort();
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !allowConsoleErrors) problems.push(`console: ${msg.text()}`);
  });
  let n = 0;
  const step: Step = async (what, fn) => {
    n += 1;
    try {
      await fn();
    } finally {
      await page
        .screenshot({
          path: join(shots, `${name}-${String(n).padStart(2, "0")}-${what}.png`),
          fullPage: true,
        })
        .catch(() => {});
    }
  };
  try {
    await steps(step, page);
    assert.deepEqual(problems, []);
    await rm(shots, { recursive: true, force: true });
  } catch (err) {
    console.error(`admin console screenshots of "${name}": ${shots}`);
    throw err;
  } finally {
    await context.close();
  }
}
