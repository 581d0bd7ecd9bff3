import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { signIn, startConsoleWorld, WAIT } from "../test/admin-console/console-world.ts";
import { globalSetup, globalTeardown } from "../test/global-setup.ts";

/**
 * docs/admin-console/*.png: the console's pages over the world of its browser tests (the real app,
 * its Stripe emulator, a paying customer, one in trial, a failed event), in Chromium at 1280 px.
 * `npm run docs:screenshots` rewrites them; CHROMIUM_PATH points at another Chromium.
 */

const OUT = new URL("../docs/admin-console/", import.meta.url);

await globalSetup();
const w = await startConsoleWorld();
try {
  await mkdir(OUT, { recursive: true });
  const context = await w.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await signIn(page, w.t.url, w.staff);
  const shoot = async (name: string, hash: string, ready: string) => {
    await page.goto(`${w.t.url}/admin/${hash}`);
    await page.locator(ready).first().waitFor(WAIT);
    await page.locator("main[aria-busy]").waitFor({ state: "detached", ...WAIT });
    const path = fileURLToPath(new URL(`${name}.png`, OUT));
    await page.screenshot({ path, fullPage: true });
    console.log(path);
  };
  const [sub] = await w.t.subscriptionsOf(w.payer.userId);
  await shoot("overview", "#/", "#metrics");
  await shoot("users", "#/users", "tr.user");
  await shoot("user-detail", `#/users/${w.payer.userId}`, "#subscription");
  await shoot("subscription-detail", `#/subscriptions/${sub?.id}`, "#subscription-status");
  await shoot("webhooks", "#/webhooks", "tr.event");
  await shoot("webhook-event", `#/webhooks/${w.failedEventId}`, "#event-status");
  await context.close();
} finally {
  await w.close();
  await globalTeardown();
}
