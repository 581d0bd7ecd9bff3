import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { DAY } from "../helpers/billing.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  type ConsoleWorld,
  chromiumMissing,
  journey,
  signIn,
  startConsoleWorld,
  WAIT,
} from "./console-world.ts";

// Support work in the admin console, in a real headless Chromium over the admin API: find a
// customer, refund their last payment, replay a failed Stripe event, extend a trial; a user who is
// not staff gets a clear page; and the users page fits a phone's width.

const skip = chromiumMissing;
let w: ConsoleWorld;

before(async () => {
  if (skip) return;
  w = await startConsoleWorld();
});
after(async () => {
  await w?.close();
});

/** Reloads the page until `check` holds (the worker acts in the background). */
async function reloadUntil(page: Page, what: string, check: () => Promise<boolean>) {
  await waitFor(
    async () => {
      await page.reload();
      await page.locator("main h1").waitFor(WAIT);
      await page.locator("main[aria-busy]").waitFor({ state: "detached", ...WAIT });
      return check();
    },
    { what, timeoutMs: 30_000, intervalMs: 250 },
  );
}

describe("the admin console in a browser", { skip }, () => {
  test("find a customer by email, open the subscription, refund the last payment: it shows once", async () => {
    await journey(w.browser, "refund", async (step, page) => {
      await step("sign-in", () => signIn(page, w.t.url, w.staff));
      await step("find-customer", async () => {
        await page.getByRole("link", { name: "Users" }).click();
        await page.getByRole("heading", { level: 1, name: "Users" }).waitFor(WAIT);
        await page.getByLabel("Email, name or customer id").fill(w.payer.email);
        await page.getByRole("button", { name: "Search" }).click();
        await page.waitForURL(/#\/users\?search=/, WAIT);
        // The unfiltered list stays until the search's answer replaces it: one row, the customer.
        const rows = page.locator("tr.user");
        await waitFor(async () => (await rows.count()) === 1, {
          what: "one user found",
          timeoutMs: 30_000,
        });
        assert.ok((await rows.textContent())?.includes(w.payer.email));
        await page.getByRole("link", { name: w.payer.email }).click();
        await page.getByRole("heading", { level: 1, name: w.payer.email }).waitFor(WAIT);
      });
      await step("open-subscription", async () => {
        await page.locator("#open-subscription").click();
        await page
          .getByRole("heading", { level: 1, name: `Subscription of ${w.payer.email}` })
          .waitFor(WAIT);
        assert.match((await page.locator("#subscription-status").textContent()) ?? "", /active/);
      });
      await step("refund", async () => {
        const paid = page.locator("tr.payment-succeeded");
        assert.equal(await paid.count(), 1);
        await paid.getByRole("button", { name: /^Refund / }).click();
        const dialog = page.getByRole("dialog", { name: "Refund this payment?" });
        await dialog.waitFor(WAIT);
        await dialog.getByRole("button", { name: "Refund" }).click();
        await page
          .locator("#status")
          .filter({ hasText: /^Refunded 29\.00 USD/ })
          .waitFor(WAIT);
      });
      await step("refund-recorded-once", async () => {
        const refunded = page.locator("tr.payment-refunded");
        await reloadUntil(
          page,
          "the refund to be recorded",
          async () => (await refunded.count()) > 0,
        );
        await w.t.settle();
        await page.reload();
        await page.locator("tr.payment").first().waitFor(WAIT);
        assert.equal(await refunded.count(), 1);
        assert.match((await refunded.textContent()) ?? "", /29\.00 USD/);
        // Refunded in full: nothing left to refund on the payment.
        assert.equal(await page.getByRole("button", { name: /^Refund / }).count(), 0);
      });
    });
  });

  test("replay a failed webhook event: its status becomes processed", async () => {
    await journey(w.browser, "replay", async (step, page) => {
      await step("sign-in", () => signIn(page, w.t.url, w.staff));
      await step("failed-events", async () => {
        await page.getByRole("link", { name: "Webhooks" }).click();
        await page.getByRole("heading", { level: 1, name: "Webhook events" }).waitFor(WAIT);
        await page.getByLabel("Status").selectOption("failed");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForURL(/status=failed/, WAIT);
        await page.getByRole("link", { name: w.failedEventId }).click();
      });
      await step("event", async () => {
        await page
          .getByRole("heading", { level: 1, name: `Event ${w.failedEventId}` })
          .waitFor(WAIT);
        assert.equal(await page.locator("#event-status").textContent(), "failed");
        assert.ok((await page.locator("tbody tr").count()) > 0, "its processing jobs are listed");
      });
      await step("replay", async () => {
        await page.getByRole("button", { name: "Replay event" }).click();
        await page.locator("#status").filter({ hasText: "Replay queued." }).waitFor(WAIT);
        await reloadUntil(
          page,
          "the replayed event to be processed",
          async () => (await page.locator("#event-status").textContent()) === "processed",
        );
      });
    });
  });

  test("extend a trial by 10 days", async () => {
    await journey(w.browser, "trial", async (step, page) => {
      const [sub] = await w.t.subscriptionsOf(w.trialer.userId);
      assert.ok(sub?.trialEnd);
      await step("sign-in", () => signIn(page, w.t.url, w.staff));
      await step("trialing", async () => {
        await page.getByRole("link", { name: "Subscriptions" }).click();
        await page.getByRole("heading", { level: 1, name: "Subscriptions" }).waitFor(WAIT);
        await page.getByLabel("Status").selectOption("trialing");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForURL(/status=trialing/, WAIT);
        await page.getByRole("link", { name: sub.stripeSubscriptionId }).click();
        await page.locator("#subscription-status").filter({ hasText: "trialing" }).waitFor(WAIT);
      });
      await step("extend", async () => {
        const before = await page.locator("#trial-end").textContent();
        await page.getByRole("button", { name: "Extend trial" }).click();
        const dialog = page.getByRole("dialog", { name: "Extend the trial" });
        await dialog.getByLabel("Days to add").fill("10");
        // Enter in the field confirms.
        await dialog.getByLabel("Days to add").press("Enter");
        await page
          .locator("#status")
          .filter({ hasText: "Trial extended by 10 days." })
          .waitFor(WAIT);
        await page
          .locator("#trial-end")
          .filter({ hasNotText: before ?? "" })
          .waitFor(WAIT);
      });
      const atStripe = await w.t.stripe.subscriptions.retrieve(sub.stripeSubscriptionId);
      assert.equal(atStripe.trial_end, Math.floor(sub.trialEnd.getTime() / 1000) + 10 * DAY);
    });
  });

  test("grant free months: a response lost on the way is retried with the same Idempotency-Key, and Stripe gets one discount", async () => {
    await journey(
      w.browser,
      "free-months",
      async (step, page) => {
        const [sub] = await w.t.subscriptionsOf(w.payer.userId);
        assert.ok(sub);
        const keys: string[] = [];
        const replayed: (string | undefined)[] = [];
        // The first request reaches the API and acts; its answer is lost before the page sees it.
        await page.route("**/grant-free-period/", async (route) => {
          keys.push(route.request().headers()["idempotency-key"] ?? "");
          const response = await route.fetch();
          replayed.push(response.headers()["idempotent-replayed"]);
          if (keys.length === 1) return route.abort("connectionreset");
          return route.fulfill({ response });
        });
        const grant = async () => {
          await page.getByRole("button", { name: "Grant free period" }).click();
          const dialog = page.getByRole("dialog", { name: "Grant a free period" });
          await dialog.getByLabel("Months").fill("2");
          await dialog.getByRole("button", { name: "Grant" }).click();
        };
        await step("sign-in", () => signIn(page, w.t.url, w.staff));
        await step("lost-answer", async () => {
          await page.goto(`${w.t.url}/admin/#/subscriptions/${sub.id}`);
          await page.locator("#subscription-status").waitFor(WAIT);
          await grant();
          await page.getByRole("alert").filter({ hasText: "did not complete" }).waitFor(WAIT);
        });
        await step("retried", async () => {
          await grant();
          await page.locator("#status").filter({ hasText: "2 free months granted." }).waitFor(WAIT);
        });
        assert.equal(keys.length, 2);
        assert.match(keys[0] ?? "", /^[0-9a-f-]{36}$/);
        assert.equal(keys[1], keys[0], "the retry resends the first request's key");
        assert.deepEqual(replayed, [undefined, "true"]);
        const atStripe = await w.t.stripe.subscriptions.retrieve(sub.stripeSubscriptionId);
        assert.equal(atStripe.discounts.length, 1, "one discount at Stripe");
        await step("discount-shown", async () => {
          await page.getByText(/100 % off/).waitFor(WAIT);
        });
      },
      // The lost answer is logged by Chromium as a failed request.
      { allowConsoleErrors: true },
    );
  });

  test("every section renders from the admin API; a plan created in the console is listed, edited and deactivated", async () => {
    await journey(w.browser, "sections", async (step, page) => {
      await step("sign-in", () => signIn(page, w.t.url, w.staff));
      const sections: [string, string][] = [
        ["Overview", "Overview"],
        ["Users", "Users"],
        ["Subscriptions", "Subscriptions"],
        ["Payments", "Payments"],
        ["Webhooks", "Webhook events"],
        ["Failed jobs", "Failed jobs and emails"],
        ["Plans", "Plans"],
      ];
      for (const [link, heading] of sections) {
        await step(`section-${link}`, async () => {
          await page
            .getByRole("navigation", { name: "Admin sections" })
            .getByRole("link", { name: link })
            .click();
          const h1 = page.getByRole("heading", { level: 1, name: heading });
          await h1.waitFor(WAIT);
          // Focus lands on the new page's heading once it is shown.
          const focused = () =>
            page.evaluate<string>(
              "document.activeElement?.tagName + ':' + document.activeElement?.textContent",
            );
          await waitFor(async () => (await focused()) === `H1:${heading}`, {
            what: `focus on the heading "${heading}"`,
            timeoutMs: 30_000,
          });
          assert.doesNotMatch(
            (await page.locator("main").textContent()) ?? "",
            /undefined|NaN|\[object Object\]/,
          );
        });
      }
      const name = `Console plan ${Date.now().toString(36)}`;
      await step("create-plan", async () => {
        const form = page.getByRole("form", { name: "New plan" });
        await form.getByLabel("Name").fill(name);
        await form.getByLabel("Price (major units)").fill("12.50");
        await form.getByLabel("Features").fill("Ten projects\nEmail support");
        await form.getByRole("button", { name: "Create plan" }).click();
        await page.locator("tr.plan", { hasText: name }).waitFor(WAIT);
        assert.match(
          (await page.locator("tr.plan", { hasText: name }).textContent()) ?? "",
          /12\.50 USD \/ month/,
        );
      });
      await step("edit-plan", async () => {
        await page.getByRole("button", { name: `Edit ${name}` }).click();
        const dialog = page.getByRole("dialog", { name: `Edit ${name}` });
        await dialog.getByLabel("Name").fill(`${name} v2`);
        await dialog.getByRole("button", { name: "Save" }).click();
        await page.locator("tr.plan", { hasText: `${name} v2` }).waitFor(WAIT);
      });
      await step("deactivate-plan", async () => {
        await page.getByRole("button", { name: `Deactivate ${name} v2` }).click();
        const dialog = page.getByRole("dialog", { name: `Deactivate ${name} v2?` });
        await dialog.getByRole("button", { name: "Deactivate" }).click();
        await page
          .locator("tr.plan", { hasText: `${name} v2` })
          .filter({ hasText: "inactive" })
          .waitFor(WAIT);
      });
    });
  });

  test("a user who is not staff: the admin API answers 403 and the console says so", async () => {
    await journey(
      w.browser,
      "not-staff",
      async (step, page) => {
        const admin: number[] = [];
        page.on("response", (res) => {
          if (new URL(res.url()).pathname.startsWith("/api/admin/")) admin.push(res.status());
        });
        await step("sign-in", () => signIn(page, w.t.url, w.notStaff, "This account is not staff"));
        assert.ok(admin.length > 0);
        assert.ok(
          admin.every((status) => status === 403),
          String(admin),
        );
        assert.match((await page.locator("#not-staff").textContent()) ?? "", /no staff access/);
        await step("direct-link", async () => {
          await page.goto(`${w.t.url}/admin/#/users`);
          await page
            .getByRole("heading", { level: 1, name: "This account is not staff" })
            .waitFor(WAIT);
        });
        assert.ok(
          admin.every((status) => status === 403),
          String(admin),
        );
        await step("sign-out", async () => {
          await page.getByRole("button", { name: "Sign out" }).click();
          await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor(WAIT);
        });
      },
      // Chromium logs each refused request (403) as a console error.
      { allowConsoleErrors: true },
    );
  });

  test("at 375 px, the users page and a user's page do not scroll the page sideways", async () => {
    await journey(
      w.browser,
      "phone",
      async (step, page) => {
        const overflow = () =>
          page.evaluate<number>(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth",
          );
        await step("sign-in", () => signIn(page, w.t.url, w.staff));
        await step("users", async () => {
          await page.goto(`${w.t.url}/admin/#/users`);
          await page.locator("tr.user").first().waitFor(WAIT);
          assert.equal(await overflow(), 0);
          // The navigation is behind the menu button, which says whether it is open.
          const menu = page.getByRole("button", { name: "Menu" });
          assert.equal(await menu.getAttribute("aria-expanded"), "false");
          await menu.click();
          assert.equal(await menu.getAttribute("aria-expanded"), "true");
          await page
            .getByRole("navigation", { name: "Admin sections" })
            .getByRole("link", { name: "Users" })
            .waitFor(WAIT);
        });
        await step("user", async () => {
          await page.goto(`${w.t.url}/admin/#/users/${w.payer.userId}`);
          await page.getByRole("heading", { level: 1, name: w.payer.email }).waitFor(WAIT);
          assert.equal(await overflow(), 0);
        });
      },
      { width: 375 },
    );
  });
});
