// The console's shell: sign-in, the section navigation and the hash router (`#/users/<id>`). A
// page is an async function of the route ({id, query, go, refresh}) answering {title, body}; the
// shell puts it in <main>, then moves focus to the page's heading, so keyboard and screen-reader
// users land on the new page. A 403 from the admin API is the "not staff" page, a 401 sign-in.

import { ApiError, messageOf, signIn, signOut, tokens } from "./api.js";
import { failuresPage } from "./pages/failures.js";
import { overviewPage } from "./pages/overview.js";
import { paymentsPage } from "./pages/payments.js";
import { plansPage } from "./pages/plans.js";
import { subscriptionPage, subscriptionsPage } from "./pages/subscriptions.js";
import { userPage, usersPage } from "./pages/users.js";
import { webhookPage, webhooksPage } from "./pages/webhooks.js";
import { errorBox, field, h, notify } from "./ui.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");

const SECTIONS = [
  ["#/", "Overview"],
  ["#/users", "Users"],
  ["#/subscriptions", "Subscriptions"],
  ["#/payments", "Payments"],
  ["#/webhooks", "Webhooks"],
  ["#/failures", "Failed jobs"],
  ["#/plans", "Plans"],
];

/** Route table: first path segment → page (list), or with an id → detail page. */
const ROUTES = {
  "": { list: overviewPage },
  users: { list: usersPage, detail: userPage },
  subscriptions: { list: subscriptionsPage, detail: subscriptionPage },
  payments: { list: paymentsPage },
  webhooks: { list: webhooksPage, detail: webhookPage },
  failures: { list: failuresPage },
  plans: { list: plansPage },
};

/** `#/users/abc?search=x` → {segments: ["users", "abc"], query: URLSearchParams}. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { segments, query: new URLSearchParams(search) };
}

/** Navigates to `hash` with `query` (empty values left out). */
export function go(hash, query = {}) {
  const params = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""),
  ).toString();
  const target = params ? `${hash}?${params}` : hash;
  if (location.hash === target) render();
  else location.hash = target;
}

function renderNav(signedIn) {
  const current = `#/${parseHash().segments[0] ?? ""}`;
  nav.replaceChildren(
    ...(signedIn
      ? SECTIONS.map(([hash, label]) =>
          h("a", { href: hash, "aria-current": hash === current ? "page" : undefined }, label),
        )
      : []),
  );
  who.replaceChildren(
    signedIn
      ? h(
          "button",
          { type: "button", id: "sign-out", class: "secondary", onclick: out },
          "Sign out",
        )
      : "",
  );
}

async function out() {
  await signOut();
  location.hash = "#/";
  render();
}

/** Shows `nodes` as the page titled `title`, and moves focus to its heading. */
function show(title, ...nodes) {
  document.title = `${title} · Billing admin`;
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...nodes.flat().filter((n) => n != null));
  heading.focus();
}

function signInPage(problem) {
  const email = h("input", {
    name: "email",
    type: "email",
    autocomplete: "username",
    required: true,
  });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    { id: "sign-in", class: "card narrow" },
    problem ? errorBox(problem) : null,
    field("Email", email),
    field("Password", password),
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelector("button").disabled = true;
    try {
      await signIn(email.value, password.value);
      render();
    } catch (err) {
      signInPage(messageOf(err));
    }
  });
  renderNav(false);
  show("Sign in", h("p", {}, "Sign in with a staff account."), form);
  email.focus();
}

/** The page a signed-in user sees when the admin API refuses them (403). */
function notStaffPage() {
  renderNav(false);
  who.replaceChildren(
    h("button", { type: "button", id: "sign-out", class: "secondary", onclick: out }, "Sign out"),
  );
  show(
    "This account is not staff",
    h(
      "div",
      { id: "not-staff", class: "card", role: "alert" },
      h(
        "p",
        {},
        "You are signed in, but this account has no staff access: the admin API refused it (403).",
      ),
      h(
        "p",
        {},
        "Ask an operator to grant it (",
        h("code", {}, "npm run cli -- users:grant-staff --email <email>"),
        "), or sign out and sign in with a staff account.",
      ),
    ),
  );
}

let rendering = 0;

/** Renders the route of the current hash. A stale render (the hash moved on) is dropped. */
async function render() {
  const turn = ++rendering;
  if (!tokens()) return signInPage();
  renderNav(true);
  const { segments, query } = parseHash();
  const route = ROUTES[segments[0] ?? ""];
  const page = route && (segments[1] ? route.detail : route.list);
  if (!page) return show("Not found", h("p", {}, "No such page."));
  main.setAttribute("aria-busy", "true");
  try {
    const { title, body } = await page({ id: segments[1], query, go, refresh: render });
    if (turn !== rendering) return;
    show(title, body);
  } catch (err) {
    if (turn !== rendering) return;
    if (err instanceof ApiError && err.status === 401)
      return signInPage("Your session ended; sign in again.");
    if (err instanceof ApiError && err.status === 403) return notStaffPage();
    show("Something went wrong", errorBox(messageOf(err)));
  } finally {
    main.removeAttribute("aria-busy");
  }
}

document.getElementById("skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.querySelector("h1")?.focus();
});
document.getElementById("menu").addEventListener("click", (event) => {
  const open = event.currentTarget.getAttribute("aria-expanded") !== "true";
  event.currentTarget.setAttribute("aria-expanded", String(open));
  nav.classList.toggle("open", open);
});
nav.addEventListener("click", () => {
  nav.classList.remove("open");
  document.getElementById("menu").setAttribute("aria-expanded", "false");
});
// The outcome of the last action belongs to the page it was done on.
window.addEventListener("hashchange", () => {
  notify("");
  render();
});
render();
