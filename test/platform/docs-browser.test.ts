import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { startTestApp, type TestApp } from "../helpers/app.ts";

// The docs pages in a real headless Chromium: they render every operation and load nothing
// from outside this machine.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

let t: TestApp;
let base: string;
let browser: Browser;

before(async () => {
  if (skip) return;
  t = await startTestApp({ worker: false });
  base = await t.app.listen({ port: 0, host: "127.0.0.1" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  await t?.close();
});

async function operationCount(): Promise<number> {
  const doc = (await (await fetch(`${base}/api/schema/`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
}

interface Rendered {
  /** Requests bound off this machine, recorded and aborted. */
  outside: string[];
  /** What the page's Content-Security-Policy blocked, as "directive uri". */
  blocked: string[];
  /** The page's Content-Security-Policy header. */
  policy: string;
}

/**
 * Opens `path`, waits for `selector` to match every operation, runs `inspect` on the page, and
 * returns what the page tried to reach.
 */
async function render(
  path: string,
  selector: string,
  inspect: (page: Page) => Promise<void> = async () => {},
): Promise<Rendered> {
  const page = await browser.newPage();
  const outside: string[] = [];
  // Every request that reaches the network layer passes here; one bound elsewhere is recorded
  // and aborted, so the test fails instead of the page quietly depending on the internet.
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" || url.hostname === "localhost") return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  // A request the policy blocks never reaches the network layer: the page reports it instead.
  const blocked: string[] = [];
  await page.exposeFunction("reportBlocked", (entry: string) => blocked.push(entry));
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (event) =>
    window.reportBlocked(event.effectiveDirective + " " + event.blockedURI));`);
  const failures: string[] = [];
  page.on("pageerror", (err) => failures.push(err.message));
  try {
    const response = await page.goto(`${base}${path}`);
    const expected = await operationCount();
    await page
      .locator(selector)
      .nth(expected - 1)
      .waitFor({ state: "attached", timeout: 30_000 });
    await inspect(page);
    assert.deepEqual(failures, []);
    return {
      outside,
      blocked,
      policy: (await response?.headerValue("content-security-policy")) ?? "",
    };
  } finally {
    await page.close();
  }
}

describe("API docs in a browser", { skip }, () => {
  test("Swagger UI at /api/docs/ renders every operation offline, within its CSP", async () => {
    let explore = "";
    let example: string | null = null;
    const { outside, blocked, policy } = await render("/api/docs/", ".opblock", async (page) => {
      explore = await page.locator(".topbar input.download-url-input").inputValue();
      // Opening "create" shows an example body a reader can send as it is.
      const create = page.locator("#operations-subscriptions-subscriptions_create");
      await create.locator(".opblock-summary-control").click();
      example = await create.locator(".body-param__example").textContent({ timeout: 10_000 });
    });
    assert.deepEqual(outside, []);
    assert.match(policy, /script-src 'self'(;|$)/);
    assert.deepEqual(blocked, []);
    // The top bar shows, and Swagger UI loaded, the one OpenAPI document.
    assert.equal(explore, "/api/schema/");
    assert.match(String(example), /"payment_method_id": "pm_card_visa"/);
  });

  test("ReDoc at /api/redoc/ renders every operation offline", async () => {
    const { outside, blocked } = await render("/api/redoc/", '[data-section-id^="operation/"]');
    assert.deepEqual(outside, []);
    // Its sidebar footer's logo from a CDN, and nothing else, is what the policy is there for.
    assert.ok(
      blocked.every((entry) => entry.startsWith("img-src https://")),
      String(blocked),
    );
  });
});
