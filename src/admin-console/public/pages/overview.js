import { get } from "../api.js";
import { h, link, money, section, table, when } from "../ui.js";

const card = (label, value, attrs = {}) =>
  h(
    "div",
    { class: "card", ...attrs },
    h("span", { class: "metric" }, String(value)),
    h("span", {}, label),
  );

/**
 * The business metrics and what failed (GET /api/admin/overview/): MRR per currency, trials,
 * churn and payment recovery over the window, subscriptions by status and plan, and the failures
 * to act on, each linking to the page that acts on it.
 */
export async function overviewPage() {
  const { metrics, failures } = await get("/api/admin/overview/");
  const window = `last ${metrics.window_days} days`;
  const events = failures.webhook_events;
  const deadJobs = failures.dead_jobs.reduce((sum, q) => sum + q.count, 0);
  return {
    title: "Overview",
    body: [
      h("p", { class: "empty" }, `Computed ${when(metrics.computed_at)}.`),
      h(
        "div",
        { class: "cards", id: "metrics" },
        metrics.mrr.length === 0
          ? card("MRR", "0")
          : metrics.mrr.map((m) =>
              card(`MRR (${m.currency.toUpperCase()})`, money(m.amount, m.currency)),
            ),
        card(
          `Trials converted (${window})`,
          `${metrics.trials.converted} of ${metrics.trials.ended}`,
        ),
        card(`Churned (${window})`, metrics.churned),
        card(
          `Payments recovered (${window})`,
          `${metrics.recovery.recovered} of ${metrics.recovery.failed}`,
        ),
      ),
      section(
        "Recent failures",
        h(
          "div",
          { class: "cards", id: "failures" },
          card(`Failed payments (${window})`, failures.failed_payments),
          h(
            "div",
            { class: "card" },
            h("span", { class: "metric" }, String(events.failed)),
            link("#/webhooks?status=failed", "Failed webhook events"),
            h("span", {}, ` (${events.retrying} retrying, ${events.pending} pending)`),
          ),
          h(
            "div",
            { class: "card" },
            h("span", { class: "metric" }, String(failures.failed_emails)),
            link("#/failures", "Failed emails"),
          ),
          h(
            "div",
            { class: "card" },
            h("span", { class: "metric" }, String(deadJobs)),
            link("#/failures", "Dead-lettered jobs"),
          ),
        ),
      ),
      section(
        "Subscriptions",
        table(
          "Subscriptions by status and plan",
          [
            { label: "Status", value: (r) => link(`#/subscriptions?status=${r.status}`, r.status) },
            { label: "Plan", value: (r) => r.plan },
            { label: "Count", value: (r) => String(r.count) },
          ],
          metrics.subscriptions,
          { empty: "No subscriptions yet." },
        ),
      ),
    ],
  };
}
