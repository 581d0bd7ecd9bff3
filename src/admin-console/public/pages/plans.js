import { get, mutate } from "../api.js";
import {
  actionButton,
  badge,
  confirmAction,
  field,
  h,
  money,
  notify,
  pager,
  section,
  table,
} from "../ui.js";

const lines = (text) =>
  String(text ?? "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

/** The create form: a new product and price at Stripe, registered as a plan. */
function createForm(refresh) {
  const form = h(
    "form",
    { class: "card", id: "create-plan", "aria-label": "New plan" },
    field("Name", h("input", { name: "name", required: true, maxlength: "100" })),
    field("Description", h("input", { name: "description", maxlength: "500" })),
    field(
      "Price (major units)",
      h("input", {
        name: "amount",
        required: true,
        inputmode: "decimal",
        pattern: "^\\d+(\\.\\d+)?$",
      }),
    ),
    field(
      "Currency",
      h("input", { name: "currency", value: "usd", required: true, maxlength: "3" }),
    ),
    field(
      "Interval",
      h(
        "select",
        { name: "interval" },
        h("option", { value: "month" }, "month"),
        h("option", { value: "year" }, "year"),
      ),
    ),
    field(
      "Trial days",
      h("input", { name: "trial_days", type: "number", min: "0", max: "730", value: "0" }),
    ),
    field("Features", h("textarea", { name: "features" }), "One per line."),
    h("button", { type: "submit" }, "Create plan"),
  );
  const out = h("div", { role: "status" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = Object.fromEntries(new FormData(form).entries());
    const body = {
      name: v.name,
      description: v.description,
      amount: v.amount,
      currency: String(v.currency).toLowerCase(),
      interval: v.interval,
      trial_days: Number(v.trial_days) || 0,
      features: lines(v.features),
    };
    try {
      await mutate(`create-plan:${JSON.stringify(body)}`, "POST", "/api/admin/plans/", { body });
      notify(`Plan ${body.name} created.`);
      refresh();
    } catch (err) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    }
  });
  return [form, out];
}

/** Edits a plan's name, description and features (prices never change: Stripe's rule). */
function editButton(plan, refresh) {
  return actionButton(
    "Edit",
    async () => {
      const answer = await confirmAction({
        title: `Edit ${plan.name}`,
        message: "The price stays: to charge another amount, create a plan.",
        confirm: "Save",
        danger: false,
        fields: [
          field("Name", h("input", { name: "name", value: plan.name, required: true })),
          field("Description", h("input", { name: "description", value: plan.description ?? "" })),
          field(
            "Features",
            h("textarea", { name: "features" }, (plan.features ?? []).join("\n")),
            "One per line.",
          ),
        ],
      });
      if (!answer) return;
      const body = {
        name: answer.name,
        description: answer.description,
        features: lines(answer.features),
      };
      await mutate(
        `edit-plan:${plan.id}:${JSON.stringify(body)}`,
        "PATCH",
        "/api/admin/plans/{id}/",
        {
          path: { id: plan.id },
          body,
        },
      );
      notify("Plan saved.");
      refresh();
    },
    { class: "secondary", "aria-label": `Edit ${plan.name}` },
  );
}

function deactivateButton(plan, refresh) {
  return actionButton(
    "Deactivate",
    async () => {
      const ok = await confirmAction({
        title: `Deactivate ${plan.name}?`,
        message: "New customers can no longer choose it; current subscriptions keep it.",
        confirm: "Deactivate",
      });
      if (!ok) return;
      await mutate(`deactivate-plan:${plan.id}`, "POST", "/api/admin/plans/{id}/deactivate/", {
        path: { id: plan.id },
      });
      notify("Plan deactivated.");
      refresh();
    },
    { class: "danger", "aria-label": `Deactivate ${plan.name}` },
  );
}

/** GET /api/admin/plans/: every plan, active or not, with create, edit, deactivate and sync. */
export async function plansPage({ query, go, refresh }) {
  const page = Math.max(1, Number(query.get("page")) || 1);
  const data = await get("/api/admin/plans/", { query: { page } });
  const plans = data.results;
  return {
    title: "Plans",
    body: [
      h(
        "div",
        { class: "actions" },
        actionButton(
          "Sync from Stripe",
          async () => {
            const result = await mutate("sync-plans", "POST", "/api/admin/plans/sync/");
            notify(
              `${result.synced.length} plans synced, ${result.deactivated} deactivated, ${result.skipped.length} skipped.`,
            );
            refresh();
          },
          { class: "secondary", id: "sync-plans" },
        ),
      ),
      table(
        "Plans",
        [
          { label: "Name", value: (p) => p.name },
          { label: "Price", value: (p) => `${money(p.amount, p.currency)} / ${p.interval}` },
          { label: "Status", value: (p) => badge(p.is_active === false ? "inactive" : "active") },
          { label: "Trial days", value: (p) => String(p.trial_days ?? 0) },
          { label: "Features", value: (p) => (p.features ?? []).join(", ") },
          {
            label: "Actions",
            value: (p) => [
              editButton(p, refresh),
              p.is_active === false ? null : deactivateButton(p, refresh),
            ],
          },
        ],
        plans,
        { empty: "No plans yet.", rowClass: () => "plan" },
      ),
      pager(data, page, (p) => go("#/plans", { page: p })),
      section("New plan", createForm(refresh)),
    ],
  };
}
