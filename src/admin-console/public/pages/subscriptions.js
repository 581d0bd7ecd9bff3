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
import { filterForm, paymentsTable } from "./users.js";

const STATUSES = [
  "",
  "active",
  "trialing",
  "past_due",
  "unpaid",
  "incomplete",
  "canceled",
  "paused",
];

const select = (name, options, selected) =>
  h(
    "select",
    { name },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );

/** Every plan, for the plan filter and the change-plan dialog. */
async function allPlans() {
  const data = await get("/api/admin/plans/");
  return Array.isArray(data) ? data : (data.results ?? []);
}

/** GET /api/admin/subscriptions/?status=&plan=&page=. */
export async function subscriptionsPage({ query, go }) {
  const status = query.get("status") ?? "";
  const plan = query.get("plan") ?? "";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const [data, plans] = await Promise.all([
    get("/api/admin/subscriptions/", { query: { status, plan, page } }),
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
            label: "Customer",
            value: (s) =>
              link(`#/subscriptions/${s.id}`, s.user?.email ?? s.user_email ?? s.id, {
                class: "subscription-link",
              }),
          },
          { label: "Plan", value: (s) => s.plan?.name ?? "" },
          { label: "Status", value: (s) => badge(s.status) },
          { label: "Period ends", value: (s) => when(s.current_period_end) },
          { label: "Created", value: (s) => when(s.created_at) },
        ],
        data.results,
        { empty: "No subscription matches these filters." },
      ),
      pager(data, page, (p) => go("#/subscriptions", { status, plan, page: p })),
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
        await post("cancel-now", "/api/admin/subscriptions/{id}/cancel/", { at_period_end: false });
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
    actionButton(
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
            .filter((p) => p.id !== sub.plan?.id)
            .map((p) => [p.id, `${p.name} (${money(p.amount, p.currency)}/${p.interval})`]),
        );
        const answer = await confirmAction({
          title: "Change the plan",
          message: `Now on ${sub.plan?.name ?? "no plan"}. The change is prorated as the customer's own would be.`,
          confirm: "Change plan",
          danger: false,
          fields: [field("New plan", choice)],
        });
        if (!answer?.plan_id) return;
        await post("change-plan", "/api/admin/subscriptions/{id}/change-plan/", {
          plan_id: answer.plan_id,
        });
        notify("Plan changed.");
        refresh();
      },
      { class: "secondary", id: "change-plan" },
    ),
  );
}

/** GET /api/admin/subscriptions/{id}/: the subscription, its customer and payments, and actions. */
export async function subscriptionPage({ id, refresh }) {
  const [data, plans] = await Promise.all([
    get("/api/admin/subscriptions/{id}/", { path: { id } }),
    allPlans(),
  ]);
  const sub = data.subscription ?? data;
  const user = data.user ?? sub.user;
  return {
    title: `Subscription: ${user?.email ?? sub.plan?.name ?? id}`,
    body: [
      facts([
        ["Customer", user ? link(`#/users/${user.id}`, user.email) : null],
        ["Plan", sub.plan?.name],
        ["Status", h("span", { id: "subscription-status" }, badge(sub.status))],
        ["Trial ends", h("span", { id: "trial-end" }, when(sub.trial_end))],
        ["Current period", `${when(sub.current_period_start)} → ${when(sub.current_period_end)}`],
        ["Cancels at period end", cell(sub.cancel_at_period_end)],
        ["Canceled at", when(sub.canceled_at)],
        ["Discount", sub.discount ? cell(sub.discount) : null],
        ["Stripe id", h("code", {}, sub.stripe_subscription_id)],
      ]),
      actions(sub, plans, refresh),
      section("Payments", paymentsTable(data.payments ?? [], refresh)),
      data.invoices
        ? section(
            "Invoices",
            table(
              "Invoices",
              [
                { label: "Number", value: (i) => i.number ?? i.id },
                { label: "Status", value: (i) => badge(i.status) },
                { label: "Total", value: (i) => money(i.total ?? i.amount_due, i.currency) },
                { label: "Date", value: (i) => when(i.created_at ?? i.created) },
              ],
              data.invoices,
            ),
          )
        : null,
    ],
  };
}
