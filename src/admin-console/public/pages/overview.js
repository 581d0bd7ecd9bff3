import { get } from "../api.js";
import { autoColumns, cell, h, link, section, table } from "../ui.js";

/** A number or money figure as a card; a group of them (`counts`) as a row of cards. */
function cards(entries) {
  return h(
    "div",
    { class: "cards" },
    entries.map(([key, value]) =>
      h(
        "div",
        { class: "card", "data-metric": key },
        h("span", { class: "metric" }, cell(value, key)),
        h("span", {}, key.replaceAll("_", " ")),
      ),
    ),
  );
}

const scalar = (value) => value === null || typeof value !== "object";

/**
 * The business metrics (GET /api/admin/overview/): figures as cards, groups of figures (counts by
 * status) as rows of cards, and lists (recent failures) as tables.
 */
export async function overviewPage() {
  const data = await get("/api/admin/overview/");
  const entries = Object.entries(data ?? {});
  const figures = entries.filter(([, v]) => scalar(v));
  const groups = entries.filter(([, v]) => v && typeof v === "object" && !Array.isArray(v));
  const lists = entries.filter(([, v]) => Array.isArray(v));
  return {
    title: "Overview",
    body: [
      figures.length ? cards(figures) : null,
      groups.map(([key, value]) =>
        section(
          key.replaceAll("_", " "),
          cards(Object.entries(value).filter(([, v]) => scalar(v))),
        ),
      ),
      lists.map(([key, rows]) =>
        section(key.replaceAll("_", " "), table(key.replaceAll("_", " "), autoColumns(rows), rows)),
      ),
      h(
        "p",
        {},
        "Failures to act on: ",
        link("#/webhooks?status=failed", "failed webhook events"),
        ", ",
        link("#/failures", "failed jobs and emails"),
        ".",
      ),
    ],
  };
}
