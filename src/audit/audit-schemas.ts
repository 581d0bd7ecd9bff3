import { Type } from "typebox";
import { Nullable } from "../platform/http/nullable.ts";
import { Paginated } from "../platform/http/pagination.ts";

/** The fields a transition changed, by their API name. */
const Fields = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      "The fields that changed, by their API name (`{}` before a creation); money as decimal strings, times as ISO-8601.",
    examples: [{ status: "past_due" }],
  },
);

/** One row of the audit trail, as its user sees it (docs/access.md, 'Audit trail'). */
export const AuditEntry = Type.Object({
  id: Type.Integer({ description: "Increases with every row: the trail's order." }),
  kind: Type.String({ examples: ["subscription.status_changed"] }),
  subject_id: Nullable(
    Type.String({
      description: "What it happened to: `sub_…`, `in_…`, `re_…`, a plan change's id, `cus_…`.",
      examples: ["sub_1QfXb2LkdIwHu7ix"],
    }),
  ),
  actor: Type.Object({
    kind: Type.String({ enum: ["user", "admin", "stripe_event", "system"] }),
    id: Nullable(
      Type.String({
        description:
          "`user`: the user's id; `stripe_event`: the event's id; `system`: the job or command; `admin`: null (staff are not named).",
        examples: ["evt_1QfXb2LkdIwHu7ix"],
      }),
    ),
  }),
  request_id: Nullable(
    Type.String({
      description:
        "The id of the caller's own request that made the change; null for other actors.",
    }),
  ),
  reason: Nullable(Type.String({ examples: ["reconcile"] })),
  before: Fields,
  after: Fields,
  created_at: Type.String({ format: "date-time" }),
});

export const AuditPage = Paginated(AuditEntry);
