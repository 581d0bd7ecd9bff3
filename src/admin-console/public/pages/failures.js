import { get, mutate } from "../api.js";
import { actionButton, badge, cell, h, link, notify, pager, section, table, when } from "../ui.js";

const retry = (label, action, path, id, refresh) =>
  actionButton(
    "Retry",
    async () => {
      await mutate(action, "POST", path, { path: { id } });
      notify("Queued again.");
      refresh();
    },
    { "aria-label": label },
  );

/**
 * Work that used up its retries: dead-lettered jobs (GET /api/admin/jobs/) and failed emails
 * (GET /api/admin/jobs/emails/?status=failed), each with a retry that queues it once more.
 */
export async function failuresPage({ query, go, refresh }) {
  const jobsPage = Math.max(1, Number(query.get("jobs")) || 1);
  const emailsPage = Math.max(1, Number(query.get("emails")) || 1);
  const [jobs, emails] = await Promise.all([
    get("/api/admin/jobs/", { query: { page: jobsPage } }),
    get("/api/admin/jobs/emails/", { query: { status: "failed", page: emailsPage } }),
  ]);
  return {
    title: "Failed jobs and emails",
    body: [
      h("p", {}, "Work that used up its retries. Retrying queues it once more."),
      section(
        "Dead-lettered jobs",
        table(
          "Dead-lettered jobs",
          [
            { label: "Queue", value: (j) => j.queue },
            { label: "Error", value: (j) => j.error ?? "" },
            { label: "Retries", value: (j) => String(j.retry_count) },
            { label: "Given up", value: (j) => when(j.dead_lettered_at) },
            { label: "Payload", value: (j) => cell(j.payload) },
            {
              label: "Action",
              value: (j) =>
                retry(
                  `Retry job ${j.id} of ${j.queue}`,
                  `retry-job:${j.id}`,
                  "/api/admin/jobs/{id}/retry/",
                  j.id,
                  refresh,
                ),
            },
          ],
          jobs.results,
          { empty: "No dead-lettered job." },
        ),
        pager(jobs, jobsPage, (p) => go("#/failures", { jobs: p, emails: emailsPage })),
      ),
      section(
        "Failed emails",
        table(
          "Failed emails",
          [
            {
              label: "To",
              value: (e) => (e.user_id ? link(`#/users/${e.user_id}`, e.recipient) : e.recipient),
            },
            { label: "Subject", value: (e) => e.subject },
            { label: "Status", value: (e) => badge(e.status) },
            { label: "Attempts", value: (e) => String(e.attempts) },
            { label: "Last error", value: (e) => e.last_error ?? "" },
            { label: "Queued", value: (e) => when(e.created_at) },
            {
              label: "Action",
              value: (e) =>
                retry(
                  `Retry email “${e.subject}” to ${e.recipient}`,
                  `retry-email:${e.id}`,
                  "/api/admin/jobs/emails/{id}/retry/",
                  e.id,
                  refresh,
                ),
            },
          ],
          emails.results,
          { empty: "No failed email." },
        ),
        pager(emails, emailsPage, (p) => go("#/failures", { jobs: jobsPage, emails: p })),
      ),
    ],
  };
}
