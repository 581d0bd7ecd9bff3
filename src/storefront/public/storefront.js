// The storefront: one page over the public API (/api/…) through the typed client the app serves
// at /client/ (docs/client.md). Tokens live in sessionStorage (this tab only, gone when it
// closes); every value from the API is put in the page as text, never as HTML.
import { ApiError, createBillingClient, storageSession, unwrap } from "/client/index.js";

/** The last status the account page showed: back from the portal, a change is what to wait for. */
const SEEN = "storefront.seen";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const session = storageSession(sessionStorage, "storefront.tokens");
/** The API as the signed-in user; an access token that is no longer valid is refreshed once. */
const api = createBillingClient({ session });

/** `h("p", {class: "x"}, "text", child)`: an element; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

function go(path) {
  history.pushState(null, "", path);
  render();
}

const link = (path, text, attrs = {}) =>
  h(
    "a",
    {
      href: path,
      onclick: (e) => {
        e.preventDefault();
        go(path);
      },
      ...attrs,
    },
    text,
  );

/** Replaces the page's content; absent parts (null) are left out rather than shown as "null". */
function show(...children) {
  main.replaceChildren(...children.filter((c) => c != null));
}

function errorLine(err) {
  return h(
    "p",
    { class: "error", role: "alert" },
    err instanceof Error ? err.message : String(err),
  );
}

const money = (amount, currency) => `${amount} ${String(currency ?? "").toUpperCase()}`;
const day = (iso) => (iso ? new Date(iso).toISOString().slice(0, 10) : "");

function renderNav() {
  const signedIn = session.get() !== null;
  nav.replaceChildren(
    link("/plans", "Plans"),
    signedIn ? link("/billing", "Account", { id: "nav-account" }) : link("/login", "Sign in"),
    signedIn
      ? h("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out")
      : link("/register", "Register"),
  );
}

async function signOut() {
  const pair = session.get();
  // Signing out here does not depend on the answer: the tokens are dropped either way.
  if (pair) await api.POST("/api/auth/logout/", { body: { refresh: pair.refresh } });
  session.set(null);
  go("/login");
}

/** A form whose submit calls `action(values)`; a refusal shows under the form. */
function form(id, fields, submit, action) {
  const out = h("div");
  const el = h(
    "form",
    {
      id,
      onsubmit: async (e) => {
        e.preventDefault();
        out.replaceChildren();
        const values = Object.fromEntries(new FormData(el));
        try {
          await action(values);
        } catch (err) {
          out.replaceChildren(errorLine(err));
        }
      },
    },
    fields.map(([name, label, type]) =>
      h("label", {}, label, h("input", { name, type, required: "", autocomplete: name })),
    ),
    h("button", { type: "submit" }, submit),
  );
  return h("div", { class: "card" }, el, out);
}

function signedIn(answer) {
  session.set({ access: answer.tokens.access, refresh: answer.tokens.refresh });
  go("/billing");
}

function registerView() {
  show(
    h("h1", {}, "Create an account"),
    form(
      "register",
      [
        ["email", "Email", "email"],
        ["username", "Username", "text"],
        ["password", "Password", "password"],
        ["password_confirm", "Password again", "password"],
      ],
      "Register",
      async (v) => signedIn(unwrap(await api.POST("/api/auth/register/", { body: v }))),
    ),
  );
}

function loginView() {
  show(
    h("h1", {}, "Sign in"),
    form(
      "login",
      [
        ["email", "Email", "email"],
        ["password", "Password", "password"],
      ],
      "Sign in",
      async (v) => signedIn(unwrap(await api.POST("/api/auth/login/", { body: v }))),
    ),
  );
}

async function plansView() {
  const plans = unwrap(await api.GET("/api/subscriptions/plans/")).results;
  const notice =
    new URLSearchParams(location.search).get("checkout") === "canceled"
      ? h("p", { class: "notice" }, "Checkout canceled: nothing was charged.")
      : null;
  show(h("h1", {}, "Plans"), notice, h("div", { class: "plans" }, plans.map(planCard)));
}

function planCard(plan) {
  const out = h("div");
  const subscribe = async () => {
    if (!session.get()) return go("/register");
    try {
      const origin = location.origin;
      const checkout = unwrap(
        await api.POST("/api/subscriptions/checkout/", {
          body: {
            plan_id: plan.id,
            success_url: `${origin}/billing?checkout=success`,
            cancel_url: `${origin}/plans?checkout=canceled`,
          },
        }),
      );
      location.assign(checkout.url);
    } catch (err) {
      out.replaceChildren(errorLine(err));
    }
  };
  return h(
    "div",
    { class: "card plan", "data-plan": plan.name },
    h("h2", {}, plan.name),
    h("p", {}, plan.description ?? ""),
    h("p", { class: "price" }, `${money(plan.amount, plan.currency)} / ${plan.interval}`),
    plan.trial_days > 0 ? h("p", {}, `${plan.trial_days}-day free trial`) : null,
    h(
      "ul",
      {},
      (plan.features ?? []).map((f) => h("li", {}, f)),
    ),
    h("button", { type: "button", class: "subscribe", onclick: subscribe }, "Subscribe"),
    out,
  );
}

async function accountView() {
  if (!session.get()) return go("/login");
  const [profile, status, invoices, payments] = (
    await Promise.all([
      api.GET("/api/auth/profile/"),
      api.GET("/api/subscriptions/status/"),
      api.GET("/api/subscriptions/invoices/"),
      api.GET("/api/subscriptions/payments/"),
    ])
  ).map(unwrap);
  sessionStorage.setItem(SEEN, JSON.stringify(status));
  const out = h("div");
  show(
    h("h1", {}, "Your account"),
    h("p", {}, `Signed in as ${profile.email}`),
    subscriptionCard(status, out),
    out,
    invoicesCard(invoices.results),
    paymentsCard(payments.results),
  );
  return { status, invoices: invoices.count, payments: payments.count };
}

function subscriptionCard(status, out) {
  const act = (fn) => async () => {
    out.replaceChildren();
    try {
      await fn();
    } catch (err) {
      out.replaceChildren(errorLine(err));
    }
  };
  const portal = act(async () => {
    const { url } = unwrap(
      await api.POST("/api/subscriptions/portal/", {
        body: { return_url: `${location.origin}/billing?from=portal` },
      }),
    );
    location.assign(url);
  });
  const post = (path) =>
    act(async () => {
      unwrap(await api.POST(path));
      await render();
    });
  const live = status.status !== "inactive" && status.status !== "canceled";
  const pending = status.pending_change;
  return h(
    "div",
    { class: "card", id: "subscription" },
    h("h2", {}, "Subscription"),
    h("p", {}, "Status: ", h("span", { class: "status", id: "status" }, status.status)),
    status.plan ? h("p", {}, "Plan: ", h("span", { id: "plan" }, status.plan.name)) : null,
    status.current_period_end
      ? h("p", {}, `Current period ends ${day(status.current_period_end)}`)
      : null,
    status.cancel_at_period_end
      ? h("p", { id: "cancels" }, "Cancels at the end of the period.")
      : null,
    pending
      ? h(
          "p",
          { id: "pending-change" },
          `Pending change: ${pending.plan?.name ?? ""} × ${pending.quantity} from ${day(pending.effective_at)}`,
        )
      : null,
    live ? null : link("/plans", "Choose a plan"),
    live ? h("button", { type: "button", id: "portal", onclick: portal }, "Manage billing") : null,
    live && !status.cancel_at_period_end
      ? h(
          "button",
          { type: "button", id: "cancel", onclick: post("/api/subscriptions/cancel/") },
          "Cancel subscription",
        )
      : null,
    live && status.cancel_at_period_end
      ? h(
          "button",
          { type: "button", id: "reactivate", onclick: post("/api/subscriptions/reactivate/") },
          "Reactivate",
        )
      : null,
  );
}

/** A card with a title and a table of `rows`, or `empty` when there are none. */
function tableCard(id, title, rows, empty) {
  return h(
    "div",
    { class: "card", id },
    h("h2", {}, title),
    rows.length ? h("table", {}, rows) : h("p", {}, empty),
  );
}

function invoicesCard(invoices) {
  const rows = invoices.map((inv) =>
    h(
      "tr",
      { class: "invoice" },
      h("td", {}, inv.number ?? inv.id),
      h("td", {}, day(inv.created_at)),
      h("td", {}, inv.status),
      h("td", {}, money(inv.total, inv.currency)),
      h(
        "td",
        {},
        inv.hosted_invoice_url ? h("a", { href: inv.hosted_invoice_url }, "View") : null,
        " ",
        inv.invoice_pdf ? h("a", { href: inv.invoice_pdf, class: "pdf" }, "PDF") : null,
      ),
    ),
  );
  return tableCard("invoices", "Invoices", rows, "No invoices yet.");
}

function paymentsCard(payments) {
  const rows = payments.map((p) =>
    h(
      "tr",
      { class: "payment" },
      [day(p.created_at), p.description ?? "", p.status, money(p.amount, p.currency)].map((v) =>
        h("td", {}, v),
      ),
    ),
  );
  return tableCard("payments", "Payments", rows, "No payments yet.");
}

/**
 * Back from Checkout or the portal, what the customer did reaches the API through Stripe's
 * webhooks a moment later: the account page reads again (every second, for up to 30 s) until
 * it shows.
 */
async function followUp() {
  const query = new URLSearchParams(location.search);
  const fromCheckout = query.get("checkout") === "success";
  const fromPortal = query.get("from") === "portal";
  if (!fromCheckout && !fromPortal) return accountView();
  const before = sessionStorage.getItem(SEEN);
  for (let i = 0; i < 30; i++) {
    const seen = await accountView();
    const sig = JSON.stringify(seen?.status ?? null);
    const done = fromCheckout
      ? seen?.status.is_active && seen.invoices > 0 && seen.payments > 0
      : before === null || sig !== before;
    if (done) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  history.replaceState(null, "", "/billing");
}

async function render() {
  renderNav();
  const path = location.pathname;
  try {
    if (path === "/register") registerView();
    else if (path === "/login") loginView();
    else if (path === "/billing") await followUp();
    else await plansView();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session.set(null);
      return go("/login");
    }
    show(errorLine(err));
  }
}

addEventListener("popstate", render);
render();
