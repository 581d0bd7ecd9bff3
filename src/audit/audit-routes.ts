import { authenticate, requireUser } from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { errorResponses, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import { AuditPage } from "./audit-schemas.ts";
import { auditBody, listAudit } from "./audit-service.ts";

/** `GET /api/subscriptions/history/`: the caller's own audit trail. */
export function auditModule(app: App, deps: AppDeps): void {
  if (!app.hasRequestDecorator("user")) app.decorateRequest("user", null);
  app.get(
    "/api/subscriptions/history/",
    {
      schema: {
        tags: ["subscriptions"],
        security: [{ bearerAuth: [] }],
        operationId: "subscriptions_history_list",
        summary: "What happened to the caller's billing, newest first, 20 a page.",
        description:
          "The audit trail's rows of the caller (docs/access.md, 'Audit trail'): each billing " +
          "transition with who caused it and the fields it changed. DRF's page-number pagination.",
        querystring: PageQuery,
        response: {
          200: described("A page of the caller's audit trail.", AuditPage),
          ...errorResponses(
            failures.any,
            failures.fields,
            failures.page,
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: authenticate(deps),
    },
    async (request) => {
      const user = requireUser(request);
      const at = pageRequest(request.query);
      const { count, rows } = await listAudit(deps.database.db, {
        userId: user.id,
        limit: at.limit,
        offset: at.offset,
      });
      return paginated(
        request,
        at,
        count,
        rows.map((row) => auditBody(row, user.id)),
      );
    },
  );
}
