import { get, mutate } from "../api.js";
import { actionButton, autoColumns, h, notify, section, table } from "../ui.js";

/** Rows with a retry button: `kind` names the list in the retry route. */
function withRetry(kind, rows, refresh) {
  const columns = autoColumns(rows).filter((c) => !["data", "payload", "output"].includes(c.label));
  return table(
    kind === "jobs" ? "Failed jobs" : "Failed emails",
    [
      ...columns,
      {
        label: "Action",
        value: (row) =>
          actionButton(
            "Retry",
            async () => {
              await mutate(
                `retry:${kind}:${row.id}`,
                "POST",
                `/api/admin/failed/${kind}/{id}/retry/`,
                {
                  path: { id: row.id },
                },
              );
              notify("Retry queued.");
              refresh();
            },
            { "aria-label": `Retry ${kind === "jobs" ? "job" : "email"} ${row.id}` },
          ),
      },
    ],
    rows,
    { empty: kind === "jobs" ? "No failed job." : "No failed email." },
  );
}

/** Dead-lettered jobs and emails that gave up, each with a retry. */
export async function failuresPage({ refresh }) {
  const [jobs, emails] = await Promise.all([
    get("/api/admin/failed/jobs/"),
    get("/api/admin/failed/emails/"),
  ]);
  const list = (data) => (Array.isArray(data) ? data : (data?.results ?? []));
  return {
    title: "Failed jobs and emails",
    body: [
      h("p", {}, "Work that used up its retries. Retrying queues it once more."),
      section("Jobs", withRetry("jobs", list(jobs), refresh)),
      section("Emails", withRetry("emails", list(emails), refresh)),
    ],
  };
}
