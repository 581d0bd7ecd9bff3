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
import { filterForm, invoicesTable, paymentsTable } from "./users.js";

const STATUSES = [
  "",
  "active",
  "trialing",
  "past_due",
  "unpaid",
  "paused",
  "canceled",
  "incomplete",
  "incomplete_expired",
];

/** A date input's `2026-12-07` as the API's date-time (midnight UTC), or undefined. */
const dayStart = (day) => (day ? `${day}T00:00:00Z` : undefined);

const select = (name, options, selected) =>
  h(
    "select",
    { name },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );

/** Every plan, for the plan filter and the change-plan dialog. */
async function allPlans() {
  const plans = [];
  for (let page = 1; ; page += 1) {
    const data = await get("/api/admin/plans/", { query: { page } });
    plans.push(...data.results);
    if (!data.next) return plans;
  }
}

/** GET /api/admin/subscriptions/?status=&plan=&page=. */
export async function subscriptionsPage({ query, go }) {
  const status = query.get("status") ?? "";
  const plan = query.get("plan") ?? "";
  const from = query.get("from") ?? "";
  const to = query.get("to") ?? "";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const filters = { status, plan, from, to };
  const [data, plans] = await Promise.all([
    get("/api/admin/subscriptions/", {
      query: { status, plan, page, created_after: dayStart(from), created_before: dayStart(to) },
    }),
    allPlans(),
  ]);
  return {
    title: "Subscriptions",
    body: [
      filterForm(
        "#/subscriptions",
        go,
        [
          [
            "Status",
            select(
              "status",
              STATUSES.map((s) => [s, s || "Any status"]),
              status,
            ),
          ],
          ["Plan", select("plan", [["", "Any plan"], ...plans.map((p) => [p.id, p.name])], plan)],
        ],
        "Filter",
      ),
      table(
        "Subscriptions",
        [
          {
            label: "Subscription",
            value: (s) =>
              link(`#/subscriptions/${s.id}`, s.stripe_subscription_id, {
                class: "subscription-link",
              }),
          },
          { label: "Customer", value: (s) => link(`#/users/${s.user_id}`, s.stripe_customer_id) },
          { label: "Plan", value: (s) => s.plan?.name ?? "" },
          { label: "Status", value: (s) => badge(s.status) },
          { label: "Period ends", value: (s) => when(s.current_period_end) },
          { label: "Created", value: (s) => when(s.created_at) },
        ],
        data.results,
        { empty: "No subscription matches these filters." },
      ),
      pager(data, page, (p) => go("#/subscriptions", { ...filters, page: p })),
    ],
  };
}

/** Asks for a whole number (days, months) in a dialog; null when cancelled. */
async function askNumber(title, message, label, confirm, max) {
  const input = h("input", { name: "n", type: "number", min: "1", max, required: true, value: "" });
  const answer = await confirmAction({
    title,
    message,
    confirm,
    danger: false,
    fields: [field(label, input)],
  });
  return answer ? Number(answer.n) : null;
}

function actions(sub, plans, refresh) {
  const id = sub.id;
  const post = (action, path, body) =>
    mutate(`${action}:${id}:${JSON.stringify(body ?? {})}`, "POST", path, { path: { id }, body });
  const ended = sub.status === "canceled" || sub.status === "incomplete_expired";
  if (ended) return h("p", { class: "empty" }, "This subscription has ended: nothing to act on.");
  return h(
    "div",
    { class: "actions" },
    actionButton(
      "Cancel now",
      async () => {
        const ok = await confirmAction({
          title: "Cancel this subscription now?",
          message: "It ends immediately; the customer loses access now.",
          confirm: "Cancel now",
        });
        if (!ok) return;
        await post("cancel-now", "/api/admin/subscriptions/{id}/cancel/", {
          at_period_end: false,
        });
        notify("Subscription canceled.");
        refresh();
      },
      { class: "danger", id: "cancel-now" },
    ),
    sub.cancel_at_period_end
      ? null
      : actionButton(
          "Cancel at period end",
          async () => {
            const ok = await confirmAction({
              title: "Cancel at the end of the period?",
              message: `It stays active until ${when(sub.current_period_end)}, then ends.`,
              confirm: "Cancel at period end",
            });
            if (!ok) return;
            await post("cancel-end", "/api/admin/subscriptions/{id}/cancel/", {
              at_period_end: true,
            });
            notify("The subscription will end with its period.");
            refresh();
          },
          { class: "danger", id: "cancel-at-period-end" },
        ),
    sub.status !== "trialing"
      ? null
      : actionButton(
          "Extend trial",
          async () => {
            const days = await askNumber(
              "Extend the trial",
              `The trial ${sub.trial_end ? `ends ${when(sub.trial_end)}` : "would start now"}; add days to it.`,
              "Days to add",
              "Extend trial",
              "730",
            );
            if (!days) return;
            await post("extend-trial", "/api/admin/subscriptions/{id}/extend-trial/", { days });
            notify(`Trial extended by ${days} days.`);
            refresh();
          },
          { class: "secondary", id: "extend-trial" },
        ),
    actionButton(
      "Grant free period",
      async () => {
        const months = await askNumber(
          "Grant a free period",
          "The next invoices are free for this many months.",
          "Months",
          "Grant",
          "24",
        );
        if (!months) return;
        await post("free-period", "/api/admin/subscriptions/{id}/grant-free-period/", { months });
        notify(`${months} free months granted.`);
        refresh();
      },
      { class: "secondary", id: "grant-free-period" },
    ),
    actionButton(
      "Change plan",
      async () => {
        const choice = select(
          "plan_id",
          plans
            .filter((p) => p.id !== sub.plan?.id && p.is_active !== false)
            .map((p) => [p.id, `${p.name} (${money(p.amount, p.currency)}/${p.interval})`]),
        );
        const answer = await confirmAction({
          title: "Change the plan",
          message: `Now on ${sub.plan?.name ?? "no plan"}. The change is prorated as the customer's own would be.`,
          confirm: "Change plan",
          danger: false,
          fields: [
            field("New plan", choice),
            field(
              "When",
              select("when", [
                ["", "As the customer's own change would (upgrade now, downgrade at period end)"],
                ["now", "Now, prorated"],
                ["period_end", "At the end of the period"],
              ]),
            ),
          ],
        });
        if (!answer?.plan_id) return;
        const body = { plan_id: answer.plan_id, ...(answer.when ? { when: answer.when } : {}) };
        const result = await post(
          "change-plan",
          "/api/admin/subscriptions/{id}/change-plan/",
          body,
        );
        notify(
          {
            changed: "Plan changed.",
            scheduled: "Plan change scheduled for the end of the period.",
            requires_action:
              "The proration charge needs the customer's 3-D Secure; the plan stays until they confirm it.",
          }[result.status] ?? "Plan change sent.",
        );
        refresh();
      },
      { class: "secondary", id: "change-plan" },
    ),
  );
}

/**
 * GET /api/admin/subscriptions/{id}/ and its customer's page (for the email, payments and
 * invoices): the subscription, what can be done to it, and its money.
 */
export async function subscriptionPage({ id, refresh }) {
  const [sub, plans] = await Promise.all([
    get("/api/admin/subscriptions/{id}/", { path: { id } }),
    allPlans(),
  ]);
  const customer = await get("/api/admin/users/{id}/", { path: { id: sub.user_id } });
  return {
    title: `Subscription of ${customer.user.email}`,
    body: [
      facts([
        ["Customer", link(`#/users/${customer.user.id}`, customer.user.email, { id: "customer" })],
        ["Plan", sub.plan?.name],
        ["Status", h("span", { id: "subscription-status" }, badge(sub.status))],
        ["Trial started", when(sub.trial_start)],
        ["Trial ends", sub.trial_end ? h("span", { id: "trial-end" }, when(sub.trial_end)) : null],
        ["Current period", `${when(sub.current_period_start)} → ${when(sub.current_period_end)}`],
        ["Cancels at period end", cell(sub.cancel_at_period_end)],
        ["Canceled at", when(sub.canceled_at)],
        ["Ended at", when(sub.ended_at)],
        [
          "Discount",
          sub.discount
            ? `${sub.discount.percent_off ? `${sub.discount.percent_off} %` : money(sub.discount.amount_off, sub.discount.currency)} off${sub.discount.ends_at ? ` until ${when(sub.discount.ends_at)}` : ""}`
            : null,
        ],
        ["Stripe id", h("code", {}, sub.stripe_subscription_id)],
      ]),
      actions(sub, plans, refresh),
      section("Payments", paymentsTable(customer.payments, refresh)),
      section("Invoices of this customer", invoicesTable(customer.invoices)),
    ],
  };
}
