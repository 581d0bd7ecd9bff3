import { get, mutate } from "../api.js";
import {
  actionButton,
  badge,
  cell,
  confirmAction,
  facts,
  h,
  link,
  notify,
  pager,
  section,
  table,
  when,
} from "../ui.js";
import { filterForm } from "./users.js";

const STATUSES = ["", "pending", "processed", "ignored", "retrying", "failed"];

/** GET /api/admin/webhooks/events/?type=&status=&page=. */
export async function webhooksPage({ query, go, refresh }) {
  const type = query.get("type") ?? "";
  const status = query.get("status") ?? "";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const data = await get("/api/admin/webhooks/events/", { query: { type, status, page } });
  const statusSelect = h(
    "select",
    { name: "status" },
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s || "Any status")),
  );
  const typeInput = h("input", { name: "type", value: type, placeholder: "invoice.paid" });
  return {
    title: "Webhook events",
    body: [
      filterForm(
        "#/webhooks",
        go,
        [
          ["Event type", typeInput],
          ["Status", statusSelect],
        ],
        "Filter",
      ),
      h(
        "div",
        { class: "actions" },
        actionButton(
          "Replay all failed events",
          async () => {
            const ok = await confirmAction({
              title: "Replay every failed event?",
              message: "Each failed event is processed again, in the order Stripe sent them.",
              confirm: "Replay all",
            });
            if (!ok) return;
            const result = await mutate(
              "replay-failed",
              "POST",
              "/api/admin/webhooks/events/replay-failed/",
            );
            notify(
              `Replay queued${result?.count !== undefined ? ` for ${result.count} events` : ""}.`,
            );
            refresh();
          },
          { class: "danger", id: "replay-failed" },
        ),
      ),
      table(
        "Webhook events",
        [
          {
            label: "Event",
            value: (e) =>
              link(`#/webhooks/${e.id}`, e.stripe_event_id ?? e.id, { class: "event-link" }),
          },
          { label: "Type", value: (e) => e.type },
          { label: "Status", value: (e) => badge(e.status) },
          { label: "Attempts", value: (e) => String(e.attempts) },
          { label: "Received", value: (e) => when(e.received_at) },
          { label: "Last error", value: (e) => e.last_error ?? "" },
        ],
        data.results,
        { empty: "No event matches these filters.", rowClass: () => "event" },
      ),
      pager(data, page, (p) => go("#/webhooks", { type, status, page: p })),
    ],
  };
}

/** GET /api/admin/webhooks/events/{id}/: the event, its processing jobs and errors, and a replay. */
export async function webhookPage({ id, refresh }) {
  const event = await get("/api/admin/webhooks/events/{id}/", { path: { id } });
  return {
    title: `Event ${event.id}`,
    body: [
      facts([
        ["Type", event.type],
        ["Status", h("span", { id: "event-status" }, badge(event.status))],
        ["Attempts", String(event.attempts)],
        ["Created at Stripe", when(event.created)],
        ["Received", when(event.received_at)],
        ["Processed", when(event.processed_at)],
        ["API version", event.api_version],
        ["Last error", event.last_error],
      ]),
      h(
        "div",
        { class: "actions" },
        actionButton(
          "Replay event",
          async () => {
            await mutate(
              `replay:${event.id}:${event.attempts}`,
              "POST",
              "/api/admin/webhooks/events/{id}/replay/",
              {
                path: { id: event.id },
              },
            );
            notify("Replay queued.");
            refresh();
          },
          { id: "replay" },
        ),
        actionButton("Reload", async () => refresh(), { class: "secondary", id: "reload" }),
      ),
      section(
        "Processing attempts",
        table(
          "Processing jobs",
          [
            { label: "Job", value: (j) => h("code", {}, j.id) },
            { label: "Queue", value: (j) => j.queue },
            { label: "State", value: (j) => badge(j.state) },
            { label: "Retries", value: (j) => String(j.retry_count) },
            { label: "Started", value: (j) => when(j.started_at) },
            { label: "Completed", value: (j) => when(j.completed_at) },
            { label: "Error", value: (j) => (j.error ? cell(j.error) : "") },
          ],
          event.jobs,
          { empty: "No processing job is kept for this event." },
        ),
      ),
      section(
        "Payload",
        h(
          "pre",
          { tabindex: "0", "aria-label": "Event payload" },
          JSON.stringify(event.payload, null, 2),
        ),
      ),
    ],
  };
}
