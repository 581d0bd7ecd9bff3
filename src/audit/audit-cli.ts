import { findUserByEmail } from "../accounts/index.ts";
import { UsageError } from "../platform/errors.ts";
import type { Command } from "../platform/feature.ts";
import { listAudit } from "./audit-service.ts";

export const auditCommands: Record<string, Command> = {
  "audit:list": {
    summary: "A user's audit trail (billing transitions and who caused them), newest first",
    usage: "audit:list --email E [--limit N]",
    options: { email: { type: "string" }, limit: { type: "string" } },
    services: true,
    async run({ values, services, out }) {
      if (!services) throw new Error("audit:list needs services");
      if (typeof values.email !== "string") throw new UsageError("--email is required");
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new UsageError("--limit must be a whole number of at least 1");
      }
      const { db } = services.database;
      const user = await findUserByEmail(db, values.email);
      if (!user) throw new UsageError(`No user with email ${values.email}.`);
      const { count, rows } = await listAudit(db, { userId: user.id, limit });
      if (rows.length === 0) {
        out("no audit rows");
        return 0;
      }
      out(["created_at", "kind", "subject", "actor", "request_id", "reason", "change"].join("\t"));
      for (const r of rows) {
        out(
          [
            r.createdAt.toISOString(),
            r.kind,
            r.subjectId ?? "-",
            `${r.actorKind}:${r.actorId ?? "-"}`,
            r.requestId ?? "-",
            r.reason ?? "-",
            `${JSON.stringify(r.before)} -> ${JSON.stringify(r.after)}`,
          ].join("\t"),
        );
      }
      if (count > rows.length) out(`(${rows.length} of ${count}; --limit shows more)`);
      return 0;
    },
  },
};
