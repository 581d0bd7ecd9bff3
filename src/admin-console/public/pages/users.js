import { get, mutate } from "../api.js";
import {
  actionButton,
  autoColumns,
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
          { label: "Subscription", value: (u) => badge(u.subscription_status ?? "inactive") },
          { label: "Active", value: (u) => cell(u.is_active) },
          { label: "Staff", value: (u) => cell(u.is_staff) },
          { label: "Joined", value: (u) => when(u.date_joined ?? u.created_at) },
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
        body: email ? { email_id: email.id } : { template: "verification" },
      });
      notify("Email queued.");
    },
    { class: "secondary", "aria-label": email ? `Resend “${email.subject}”` : undefined },
  );
}

/** GET /api/admin/users/{id}/: the user with their subscription, money, emails, sessions, audit. */
export async function userPage({ id, refresh }) {
  const data = await get("/api/admin/users/{id}/", { path: { id } });
  const user = data.user ?? data;
  const sub = data.subscription;
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
        ["Active", cell(user.is_active)],
        ["Email verified", cell(user.email_verified)],
        ["Staff", cell(user.is_staff)],
        ["Joined", when(user.date_joined ?? user.created_at)],
      ]),
      h(
        "div",
        { class: "actions" },
        activation(user, refresh),
        user.email_verified ? null : resend(user),
      ),
      section(
        "Subscription",
        sub
          ? h(
              "div",
              { class: "card", id: "subscription" },
              facts([
                ["Plan", sub.plan?.name],
                ["Status", badge(sub.status)],
                ["Period ends", when(sub.current_period_end)],
                ["Cancels at period end", cell(sub.cancel_at_period_end)],
              ]),
              h(
                "p",
                {},
                link(`#/subscriptions/${sub.id}`, "Open subscription", { id: "open-subscription" }),
              ),
            )
          : h("p", { class: "empty" }, "No subscription."),
      ),
      section(
        "Invoices",
        table(
          "Invoices",
          autoColumns(data.invoices, ["number", "status", "total", "currency", "created_at"]),
          data.invoices,
        ),
      ),
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
            { label: "Action", value: (e) => resend(user, e) },
          ],
          data.emails,
        ),
      ),
      section("Sessions", table("Sessions", autoColumns(data.sessions), data.sessions)),
      section("Audit", table("Audit trail", autoColumns(data.audit), data.audit)),
    ],
  };
}

/**
 * Payments with a refund action: the whole amount, or part of it (asked in the dialog). The row
 * shows the API's status; a refund is recorded when Stripe's webhook comes back.
 */
export function paymentsTable(payments, refresh) {
  return table(
    "Payments",
    [
      { label: "Date", value: (p) => when(p.created_at) },
      { label: "Amount", value: (p) => money(p.amount, p.currency) },
      { label: "Status", value: (p) => badge(p.status) },
      {
        label: "Refunded",
        value: (p) => money(p.amount_refunded ?? p.refunded_amount, p.currency),
      },
      { label: "Description", value: (p) => p.description },
      {
        label: "Action",
        value: (p) => (p.status === "succeeded" ? refundButton(p, refresh) : ""),
      },
    ],
    payments,
    { rowClass: () => "payment", empty: "No payments." },
  );
}

function refundButton(payment, refresh) {
  return actionButton(
    "Refund",
    async () => {
      const amount = h("input", {
        name: "amount",
        inputmode: "decimal",
        placeholder: payment.amount,
        pattern: "^\\d+(\\.\\d+)?$",
      });
      const answer = await confirmAction({
        title: "Refund this payment?",
        message: `${money(payment.amount, payment.currency)} paid ${when(payment.created_at)}. Leave the amount empty to refund it all.`,
        confirm: "Refund",
        fields: [field(`Amount (${String(payment.currency).toUpperCase()}, optional)`, amount)],
      });
      if (!answer) return;
      const body = answer.amount ? { amount: answer.amount } : {};
      await mutate(
        `refund:${payment.id}:${answer.amount ?? ""}`,
        "POST",
        "/api/admin/payments/{id}/refund/",
        {
          path: { id: payment.id },
          body,
        },
      );
      notify("Refund requested; it shows once Stripe confirms it.");
      refresh();
    },
    {
      class: "danger",
      "aria-label": `Refund ${money(payment.amount, payment.currency)} of ${when(payment.created_at)}`,
    },
  );
}
