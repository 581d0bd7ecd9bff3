import { get, mutate } from "../api.js";
import {
  actionButton,
  badge,
  cell,
  confirmAction,
  facts,
  field,
  h,
  link,
  money,
  notify,
  pager,
  section,
  table,
  when,
} from "../ui.js";

const pageOf = (query) => Math.max(1, Number(query.get("page")) || 1);

/** A search form whose submit navigates to `hash` with the form's values as the query. */
export function filterForm(hash, go, controls, label = "Search") {
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": label },
    controls.map(([text, control]) => field(text, control)),
    h("button", { type: "submit" }, label),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(hash, Object.fromEntries(new FormData(form).entries()));
  });
  return form;
}

/** GET /api/admin/users/?search=&page=: by email, name or Stripe customer id. */
export async function usersPage({ query, go }) {
  const search = query.get("search") ?? "";
  const page = pageOf(query);
  const data = await get("/api/admin/users/", { query: { search, page } });
  const input = h("input", { name: "search", type: "search", value: search });
  return {
    title: "Users",
    body: [
      filterForm("#/users", go, [["Email, name or customer id", input]]),
      table(
        "Users",
        [
          {
            label: "Email",
            value: (u) => link(`#/users/${u.id}`, u.email, { class: "user-link" }),
          },
          { label: "Name", value: (u) => [u.first_name, u.last_name].filter(Boolean).join(" ") },
          {
            label: "Customer",
            value: (u) => (u.stripe_customer_id ? h("code", {}, u.stripe_customer_id) : ""),
          },
          { label: "Active", value: (u) => cell(u.is_active) },
          { label: "Staff", value: (u) => cell(u.is_staff) },
          { label: "Joined", value: (u) => when(u.created_at) },
          { label: "Last sign-in", value: (u) => when(u.last_login) },
        ],
        data.results,
        {
          empty: search ? `No user matches “${search}”.` : "No users yet.",
          rowClass: () => "user",
        },
      ),
      pager(data, page, (p) => go("#/users", { search, page: p })),
    ],
  };
}

const fullName = (u) => [u.first_name, u.last_name].filter(Boolean).join(" ");

/** Activate or deactivate (asked first: a deactivated user cannot sign in). */
function activation(user, refresh) {
  const active = user.is_active !== false;
  return actionButton(
    active ? "Deactivate user" : "Activate user",
    async () => {
      if (active) {
        const ok = await confirmAction({
          title: "Deactivate this user?",
          message: `${user.email} will no longer be able to sign in; their sessions end.`,
          confirm: "Deactivate",
        });
        if (!ok) return;
      }
      const verb = active ? "deactivate" : "activate";
      await mutate(`${verb}:${user.id}`, "POST", `/api/admin/users/{id}/${verb}/`, {
        path: { id: user.id },
      });
      notify(active ? "User deactivated." : "User activated.");
      refresh();
    },
    { class: active ? "danger" : "", id: "activation" },
  );
}

/** Resends an email the user was sent before (or a new verification email). */
function resend(user, email) {
  const what = email ? `resend:${user.id}:${email.id}` : `resend:${user.id}:verification`;
  return actionButton(
    email ? "Resend" : "Resend verification email",
    async () => {
      await mutate(what, "POST", "/api/admin/users/{id}/resend-email/", {
        path: { id: user.id },
        body: email ? { email_id: email.id } : {},
      });
      notify("Email queued.");
    },
    { class: "secondary", "aria-label": email ? `Resend “${email.subject}”` : undefined },
  );
}

/** The current subscription (or its status alone when there is none) with a link to act on it. */
function subscriptionCard(sub) {
  if (!sub?.id)
    return h("p", { class: "empty" }, `No subscription (${sub?.status ?? "inactive"}).`);
  return h(
    "div",
    { class: "card", id: "subscription" },
    facts([
      ["Plan", sub.plan?.name],
      ["Status", badge(sub.status)],
      ["Period ends", when(sub.current_period_end)],
      ["Cancels at period end", cell(sub.cancel_at_period_end)],
    ]),
    h("p", {}, link(`#/subscriptions/${sub.id}`, "Open subscription", { id: "open-subscription" })),
  );
}

/** GET /api/admin/users/{id}/: the user with their subscription, money, emails, sessions, audit. */
export async function userPage({ id, refresh }) {
  const data = await get("/api/admin/users/{id}/", { path: { id } });
  const user = data.user;
  return {
    title: user.email,
    body: [
      facts([
        ["Name", fullName(user)],
        ["Username", user.username],
        ["Id", h("code", {}, user.id)],
        [
          "Stripe customer",
          user.stripe_customer_id ? h("code", {}, user.stripe_customer_id) : null,
        ],
        ["Active", h("span", { id: "user-active" }, cell(user.is_active))],
        ["Email verified", cell(user.email_verified)],
        ["Staff", cell(user.is_staff)],
        ["Joined", when(user.created_at)],
        ["Last sign-in", when(user.last_login)],
      ]),
      h(
        "div",
        { class: "actions" },
        activation(user, refresh),
        user.email_verified ? null : resend(user),
      ),
      section("Subscription", subscriptionCard(data.subscription)),
      data.subscriptions.length > 1
        ? section(
            "Earlier subscriptions",
            table(
              "Every subscription",
              [
                {
                  label: "Plan",
                  value: (s) => link(`#/subscriptions/${s.id}`, s.plan?.name ?? s.id),
                },
                { label: "Status", value: (s) => badge(s.status) },
                { label: "Created", value: (s) => when(s.created_at) },
                { label: "Ended", value: (s) => when(s.ended_at) },
              ],
              data.subscriptions,
            ),
          )
        : null,
      section("Invoices", invoicesTable(data.invoices)),
      section("Payments", paymentsTable(data.payments, refresh)),
      section(
        "Emails",
        table(
          "Emails",
          [
            { label: "Subject", value: (e) => e.subject },
            { label: "Template", value: (e) => e.template },
            { label: "Status", value: (e) => badge(e.status) },
            { label: "Sent", value: (e) => when(e.sent_at ?? e.created_at) },
            { label: "Error", value: (e) => e.last_error ?? "" },
            { label: "Action", value: (e) => resend(user, e) },
          ],
          data.emails,
          { empty: "No emails." },
        ),
      ),
      section(
        "Sessions",
        table(
          "Open sessions",
          [
            { label: "Device", value: (s) => s.user_agent },
            { label: "IP", value: (s) => s.ip },
            { label: "Signed in", value: (s) => when(s.created_at) },
            { label: "Last used", value: (s) => when(s.last_used_at) },
            { label: "Expires", value: (s) => when(s.expires_at) },
          ],
          data.sessions,
          { empty: "No open sessions." },
        ),
      ),
      section(
        "Audit",
        table(
          "Audit trail",
          [
            { label: "When", value: (a) => when(a.created_at) },
            { label: "What", value: (a) => a.kind },
            {
              label: "By",
              value: (a) => [a.actor_kind, a.actor_id ? ` ${a.actor_id}` : ""].join(""),
            },
            { label: "Reason", value: (a) => a.reason ?? "" },
            { label: "Change", value: (a) => h("code", {}, JSON.stringify(a.after)) },
          ],
          data.audit,
          { empty: "Nothing audited yet." },
        ),
      ),
    ],
  };
}

export function invoicesTable(invoices) {
  return table(
    "Invoices",
    [
      { label: "Number", value: (i) => i.number ?? i.id },
      { label: "Status", value: (i) => badge(i.status) },
      { label: "Total", value: (i) => money(i.total, i.currency) },
      { label: "Paid", value: (i) => money(i.amount_paid, i.currency) },
      { label: "Reason", value: (i) => i.billing_reason ?? "" },
      { label: "Date", value: (i) => when(i.created_at) },
    ],
    invoices,
    { empty: "No invoices." },
  );
}

/** The decimals of the API's amounts ("9.99" → 2, "1000" → 0): the currency's. */
const decimalsOf = (amount) => (String(amount).split(".")[1] ?? "").length;

/** "4.50" in a currency whose amounts have `decimals` digits → 450 (minor units), or null. */
export function minorUnits(text, decimals) {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
  if (!match || (match[2] ?? "").length > decimals) return null;
  return Number(match[1]) * 10 ** decimals + Number((match[2] ?? "").padEnd(decimals, "0") || 0);
}

/**
 * Payments with a refund action: the whole amount, or part of it (asked in the dialog). Stripe
 * makes the refund at once; the row shows it when Stripe's webhook comes back.
 */
export function paymentsTable(payments, refresh, { customers = false } = {}) {
  // What was refunded of each payment (its refund rows share its PaymentIntent), in minor units.
  const refunded = new Map();
  for (const p of payments) {
    if (p.status !== "refunded" || !p.stripe_payment_intent_id) continue;
    const minor = minorUnits(p.amount, decimalsOf(p.amount)) ?? 0;
    refunded.set(
      p.stripe_payment_intent_id,
      (refunded.get(p.stripe_payment_intent_id) ?? 0) + minor,
    );
  }
  const refundable = (p) =>
    p.status === "succeeded" &&
    (refunded.get(p.stripe_payment_intent_id) ?? 0) <
      (minorUnits(p.amount, decimalsOf(p.amount)) ?? 0);
  return table(
    "Payments",
    [
      { label: "Date", value: (p) => when(p.created_at) },
      customers
        ? { label: "Customer", value: (p) => link(`#/users/${p.user_id}`, "Open customer") }
        : null,
      { label: "Amount", value: (p) => money(p.amount, p.currency) },
      { label: "Status", value: (p) => badge(p.status) },
      {
        label: "Refunded",
        value: (p) => (p.amount_refunded ? money(p.amount_refunded, p.currency) : ""),
      },
      { label: "Description", value: (p) => p.description },
      {
        label: "Action",
        value: (p) => (refundable(p) ? refundButton(p, refresh) : ""),
      },
    ].filter(Boolean),
    payments,
    { rowClass: (p) => `payment payment-${p.status}`, empty: "No payments." },
  );
}

function refundButton(payment, refresh) {
  const decimals = decimalsOf(payment.amount);
  const currency = String(payment.currency).toUpperCase();
  return actionButton(
    "Refund",
    async () => {
      const amount = h("input", {
        name: "amount",
        inputmode: "decimal",
        placeholder: payment.amount,
      });
      const answer = await confirmAction({
        title: "Refund this payment?",
        message: `${money(payment.amount, payment.currency)} paid ${when(payment.created_at)}. Leave the amount empty to refund everything not refunded yet.`,
        confirm: "Refund",
        fields: [field(`Amount in ${currency} (optional)`, amount)],
      });
      if (!answer) return;
      let body = {};
      if (answer.amount) {
        const minor = minorUnits(answer.amount, decimals);
        if (!minor) throw new Error(`“${answer.amount}” is not an amount in ${currency}.`);
        body = { amount: minor };
      }
      const refund = await mutate(
        `refund:${payment.id}:${body.amount ?? "all"}`,
        "POST",
        "/api/admin/payments/{id}/refund/",
        { path: { id: payment.id }, body },
      );
      notify(
        `Refunded ${money(refund.amount, refund.currency)} (${refund.status}); it shows here once Stripe's webhook confirms it.`,
      );
      refresh();
    },
    {
      class: "danger",
      "aria-label": `Refund ${money(payment.amount, payment.currency)} of ${when(payment.created_at)}`,
    },
  );
}
