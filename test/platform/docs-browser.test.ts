import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium } from "playwright-core";
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

/** Opens `path`, waits for `selector` to match every operation, returns off-machine requests. */
async function render(path: string, selector: string): Promise<string[]> {
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
  const failures: string[] = [];
  page.on("pageerror", (err) => failures.push(err.message));
  try {
    await page.goto(`${base}${path}`);
    const expected = await operationCount();
    await page
      .locator(selector)
      .nth(expected - 1)
      .waitFor({ state: "attached", timeout: 30_000 });
    assert.deepEqual(failures, []);
    return outside;
  } finally {
    await page.close();
  }
}

describe("API docs in a browser", { skip }, () => {
  test("Swagger UI at /api/docs/ renders every operation offline", async () => {
    const outside = await render("/api/docs/", ".opblock");
    assert.deepEqual(outside, []);
  });

  test("ReDoc at /api/redoc/ renders every operation offline", async () => {
    const outside = await render("/api/redoc/", '[data-section-id^="operation/"]');
    assert.deepEqual(outside, []);
  });
});
