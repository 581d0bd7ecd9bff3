import { get } from "../api.js";
import { h, link, pager } from "../ui.js";
import { filterForm, paymentsTable } from "./users.js";

/** GET /api/admin/payments/?status=&page=: every payment, newest first, with refunds. */
export async function paymentsPage({ query, go, refresh }) {
  const status = query.get("status") ?? "";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const data = await get("/api/admin/payments/", { query: { status, page } });
  const select = h(
    "select",
    { name: "status" },
    ["", "succeeded", "failed", "pending", "refunded"].map((s) =>
      h("option", { value: s, selected: s === status }, s || "Any status"),
    ),
  );
  return {
    title: "Payments",
    body: [
      filterForm("#/payments", go, [["Status", select]], "Filter"),
      paymentsTable(data.results, refresh, { customers: true }),
      pager(data, page, (p) => go("#/payments", { status, page: p })),
      h(
        "p",
        { class: "empty" },
        "A customer's payments are also on their page: search them in ",
        link("#/users", "Users"),
        ".",
      ),
    ],
  };
}
