import { UsageError } from "../errors.ts";
import type { Command } from "../feature.ts";
import { listEmails } from "./email-service.ts";

const STATUSES = ["queued", "retrying", "sent", "failed"];

export const emailCommands: Record<string, Command> = {
  "emails:list": {
    summary: "List recorded emails, newest first",
    usage: "emails:list [--status queued|retrying|sent|failed] [--to ADDRESS] [--limit N]",
    options: { status: { type: "string" }, to: { type: "string" }, limit: { type: "string" } },
    services: true,
    async run({ values, services, out }) {
      if (!services) throw new Error("emails:list needs services");
      const status = typeof values.status === "string" ? values.status : undefined;
      if (status && !STATUSES.includes(status)) {
        throw new UsageError(`--status must be one of ${STATUSES.join(", ")}`);
      }
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError("--limit must be a number");
      const rows = await listEmails(services.database.db, {
        limit,
        ...(status ? { status } : {}),
        ...(typeof values.to === "string" ? { recipient: values.to } : {}),
      });
      if (rows.length === 0) {
        out("no emails");
        return 0;
      }
      out(
        [
          "created_at",
          "status",
          "attempts",
          "template",
          "recipient",
          "cause",
          "sent_at",
          "message_id / last error",
        ].join("\t"),
      );
      for (const r of rows) {
        out(
          [
            r.createdAt.toISOString(),
            r.status,
            String(r.attempts),
            r.template,
            r.recipient,
            r.causeKey,
            r.sentAt?.toISOString() ?? "-",
            r.status === "sent" ? (r.providerMessageId ?? "-") : (r.lastError ?? "-"),
          ].join("\t"),
        );
      }
      return 0;
    },
  },
};
