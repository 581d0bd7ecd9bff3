import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { storefrontOn } from "../../src/platform/http/storefront-origin.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";

// The storefront's switch, what it serves, and the one thing it changes in the API: Checkout's
// and the portal's return URLs may point back at the server that serves it.

let on: BillingTestApp;
let off: BillingTestApp;
before(async () => {
  [on, off] = await Promise.all([
    startBillingApp({ worker: false }),
    startBillingApp({ worker: false, env: { STOREFRONT: "off" } }),
  ]);
});
after(async () => {
  await Promise.all([on?.close(), off?.close()]);
});

describe("STOREFRONT", () => {
  test("unset, it is on except in production", () => {
    assert.equal(storefrontOn({ STOREFRONT: undefined, isProduction: false }), true);
    assert.equal(storefrontOn({ STOREFRONT: undefined, isProduction: true }), false);
    assert.equal(storefrontOn({ STOREFRONT: true, isProduction: true }), true);
    assert.equal(storefrontOn({ STOREFRONT: false, isProduction: false }), false);
  });

  test("on: the page at /, /plans and /billing, its module and stylesheet, under a strict CSP", async () => {
    for (const path of ["/", "/plans", "/billing", "/login", "/register"]) {
      const res = await fetch(`${on.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe/);
      const html = await res.text();
      assert.match(html, /<script type="module" src="\/storefront\/storefront\.js"><\/script>/);
      assert.doesNotMatch(html, /<script>|\son\w+=|https?:\/\//);
    }
    const js = await fetch(`${on.url}/storefront/storefront.js`);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(js.headers.get("x-content-type-options"), "nosniff");
    assert.doesNotMatch(await js.text(), /innerHTML|https?:\/\/(?!\/)/);
    assert.equal((await fetch(`${on.url}/storefront/../package.json`)).status, 404);
  });

  test("off: nothing at / or under /storefront/", async () => {
    assert.equal((await fetch(`${off.url}/`)).status, 404);
    assert.equal((await fetch(`${off.url}/billing`)).status, 404);
    assert.equal((await fetch(`${off.url}/storefront/storefront.js`)).status, 404);
  });
});

describe("return URLs to the storefront", () => {
  test("on, Checkout and the portal take the serving origin's URLs; another origin stays refused", async () => {
    const plan = await on.plan();
    const buyer = await on.signUp();
    const body = {
      plan_id: plan.id,
      success_url: `${on.url}/billing?checkout=success`,
      cancel_url: `${on.url}/plans?checkout=canceled`,
    };
    const ok = await on.http("POST", "/api/subscriptions/checkout/", { token: buyer.token, body });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const session = await on.stripe.checkout.sessions.retrieve(ok.body.session_id);
    assert.equal(session.success_url, body.success_url);
    const portal = await on.http("POST", "/api/subscriptions/portal/", {
      token: buyer.token,
      body: { return_url: `${on.url}/billing?from=portal` },
    });
    assert.equal(portal.status, 200, JSON.stringify(portal.body));
    const evil = await on.http("POST", "/api/subscriptions/checkout/", {
      token: buyer.token,
      body: { ...body, success_url: "http://evil.example/billing" },
    });
    assert.equal(evil.status, 400);
  });

  test("off, the serving origin is just another origin", async () => {
    const plan = await off.plan();
    const buyer = await off.signUp();
    const res = await off.http("POST", "/api/subscriptions/checkout/", {
      token: buyer.token,
      body: { plan_id: plan.id, success_url: `${off.url}/billing` },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { success_url: ["This URL's origin is not allowed."] });
  });
});
