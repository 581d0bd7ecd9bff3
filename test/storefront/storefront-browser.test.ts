import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";

// A person clicking through the storefront in a real headless Chromium: register, subscribe on
// the emulator's hosted Checkout page (a plain card, and one that asks for 3-D Secure), the
// account page, the invoice PDF, a plan switch in the Billing Portal and a cancellation. Each
// step leaves a screenshot in a temporary directory, kept (and its path printed) when a test fails.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
const WAIT = { timeout: 30_000 };

let t: BillingTestApp;
let browser: Browser;
let basic: { id: string };

before(async () => {
  if (skip) return;
  t = await startBillingApp();
  basic = await t.plan({ name: "Basic", amount: 900 });
  await t.plan({ name: "Pro", amount: 2900 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await t?.close();
});

/**
 * Runs a test's steps on a fresh page. The page may reach only this machine; a page error or a
 * CSP violation on the storefront fails the test (but console errors that match `expected`). A
 * screenshot follows each step.
 */
async function journey(
  name: string,
  steps: (step: Step, page: Page) => Promise<void>,
  expected?: RegExp,
) {
  const shots = await mkdtemp(join(tmpdir(), `storefront-screenshots-${name}-`));
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  await page.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === "127.0.0.1" || host === "localhost") return route.continue();
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort();
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  // A CSP violation, a resource that failed to load (a missing favicon included) or any other
  // error the page logs.
  page.on("console", (msg) => {
    if (msg.type() === "error" && !expected?.test(msg.text())) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  let n = 0;
  const step: Step = async (what, fn) => {
    n += 1;
    try {
      await fn();
    } finally {
      await page
        .screenshot({ path: join(shots, `${name}-${String(n).padStart(2, "0")}-${what}.png`) })
        .catch(() => {});
    }
  };
  try {
    await steps(step, page);
    assert.deepEqual(problems, []);
    await rm(shots, { recursive: true, force: true });
  } catch (err) {
    console.error(`storefront screenshots of "${name}": ${shots}`);
    throw err;
  } finally {
    await context.close();
  }
}

type Step = (what: string, fn: () => Promise<void>) => Promise<void>;

async function register(step: Step, page: Page) {
  await step("register", async () => {
    await page.goto(`${t.url}/register`);
    const id = Math.random().toString(36).slice(2, 10);
    await page.fill('input[name="email"]', `shopper-${id}@example.com`);
    await page.fill('input[name="username"]', `shopper_${id}`);
    await page.fill('input[name="password"]', "correct-Horse-battery-9");
    await page.fill('input[name="password_confirm"]', "correct-Horse-battery-9");
    await page.click('#register button[type="submit"]');
    await page.locator("#status").filter({ hasText: "inactive" }).waitFor(WAIT);
  });
}

async function subscribe(step: Step, page: Page, card: string) {
  await step("plans", async () => {
    await page.click('nav a[href="/plans"]');
    await page.locator('.plan[data-plan="Basic"]').waitFor(WAIT);
    assert.doesNotMatch((await page.locator("main").textContent()) ?? "", /null|undefined/);
    await page.locator('.plan[data-plan="Basic"] .subscribe').click();
    await page.waitForURL(/\/checkout\/cs_test_/, WAIT);
  });
  await step("checkout", async () => {
    assert.match((await page.locator("#total").textContent()) ?? "", /9\.00 USD/);
    await page.selectOption('select[name="payment_method"]', card);
    await page.click("#pay");
  });
}

async function activeWithOneInvoice(step: Step, page: Page) {
  await step("account-active", async () => {
    await page.waitForURL(/\/billing/, WAIT);
    await page
      .locator("#status")
      .filter({ hasText: /^active$/ })
      .waitFor(WAIT);
    await page.locator("tr.invoice").first().waitFor(WAIT);
    assert.equal(await page.locator("tr.invoice").count(), 1);
    await page.locator("tr.payment").first().waitFor(WAIT);
    assert.equal(await page.locator("tr.payment").count(), 1);
    assert.match((await page.locator("tr.payment").textContent()) ?? "", /succeeded/);
    assert.equal(await page.locator("#plan").textContent(), "Basic");
    const pdf = await page.locator("tr.invoice a.pdf").getAttribute("href");
    assert.ok(pdf);
    const res = await page.request.get(pdf);
    assert.equal(res.headers()["content-type"], "application/pdf");
    assert.equal((await res.body()).subarray(0, 5).toString("latin1"), "%PDF-");
  });
}

describe("the storefront in a browser", { skip }, () => {
  test("register, pay with pm_card_visa, switch plan in the portal, cancel", async () => {
    await journey("visa", async (step, page) => {
      await register(step, page);
      await subscribe(step, page, "pm_card_visa");
      await activeWithOneInvoice(step, page);
      await step("portal-switch", async () => {
        await page.click("#portal");
        await page.waitForURL(/\/portal\/bps_/, WAIT);
        assert.match((await page.locator("#plan").textContent()) ?? "", /Basic/);
        const pro = page.locator('select[name="price"] option', { hasText: "Pro" });
        await page.selectOption('select[name="price"]', (await pro.getAttribute("value")) ?? "");
        await page.click("#switch");
        await page.locator("#plan").filter({ hasText: "Pro" }).waitFor(WAIT);
      });
      await step("portal-return", async () => {
        await page.click("text=Return");
        await page.locator("#plan").filter({ hasText: /^Pro$/ }).waitFor(WAIT);
      });
      await step("cancel", async () => {
        await page.click("#cancel");
        await page.locator("#cancels").waitFor(WAIT);
        await page.locator("#reactivate").waitFor(WAIT);
      });
    });
  });

  test("register and pay with a card that asks for 3-D Secure, authorized on the page", async () => {
    await journey("3ds", async (step, page) => {
      await register(step, page);
      await subscribe(step, page, "pm_card_authenticationRequired");
      await step("authorize", async () => {
        await page.locator("#authorize").click();
      });
      await activeWithOneInvoice(step, page);
    });
  });

  test("the page calls the API through /client/, which refreshes a stale token once", async () => {
    // Chromium logs each 401 the page receives; here they are the point.
    const unauthorized = /status of 401/;
    await journey(
      "refresh",
      async (step, page) => {
        const loaded: string[] = [];
        const refreshes: string[] = [];
        page.on("request", (request) => {
          const { pathname } = new URL(request.url());
          if (pathname.startsWith("/client/")) loaded.push(pathname);
          if (pathname === "/api/auth/token/refresh/") refreshes.push(request.method());
        });
        await register(step, page);
        assert.deepEqual(loaded.sort(), ["/client/index.js", "/client/openapi-fetch.js"]);
        await step("stale-token", async () => {
          await page.evaluate(() => {
            const key = "storefront.tokens";
            const pair = JSON.parse(sessionStorage.getItem(key) ?? "null");
            sessionStorage.setItem(key, JSON.stringify({ ...pair, access: "no-longer-valid" }));
          });
          // The account page asks four things at once: all four get a 401, one refresh follows.
          await page.reload();
          await page.locator("#status").filter({ hasText: "inactive" }).waitFor(WAIT);
          assert.deepEqual(refreshes, ["POST"]);
          const pair = await page.evaluate(() => sessionStorage.getItem("storefront.tokens"));
          assert.doesNotMatch(pair ?? "", /no-longer-valid/);
        });
      },
      unauthorized,
    );
  });

  test("plans are listed and the storefront answers under its own CSP", async () => {
    const res = await fetch(`${t.url}/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.ok(basic.id);
  });
});
