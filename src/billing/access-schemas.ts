import { Type } from "typebox";
import { Nullable } from "../platform/http/nullable.ts";
import { ACCESS_REASONS } from "./access-policy.ts";
import { Entitlements, Plan } from "./billing-schemas.ts";

const FEATURE = "^[a-z][a-z0-9_]{0,39}$";

export const AccessQuery = Type.Object(
  {
    feature: Type.Optional(
      Type.String({
        pattern: FEATURE,
        description: "A feature name: the answer adds its `value`, and `allowed` needs it granted.",
        examples: ["projects"],
      }),
    ),
  },
  { additionalProperties: false },
);

export const AccessParams = Type.Object({
  user_id: Type.String({ format: "uuid", description: "The user's id (`user.id`)." }),
});

export const AccessAnswer = Type.Object({
  allowed: Type.Boolean({ description: "May the user use the product (or the feature) now." }),
  reason: Type.String({
    enum: [...ACCESS_REASONS, "feature_not_included"],
    description: "Why, by the policy table of docs/access.md.",
    examples: ["active"],
  }),
  until: Nullable(
    Type.String({
      format: "date-time",
      description:
        "When the answer changes unless Stripe reports something new (a grace window or a scheduled cancellation ends); null: no change is due.",
    }),
  ),
  plan: Nullable(Plan),
  entitlements: Entitlements,
  feature: Type.Optional(Type.String({ description: "The `feature` asked for." })),
  value: Type.Optional(
    Type.Unsafe<boolean | number | null>({
      type: ["boolean", "integer", "null"],
      minimum: 0,
      description:
        "The feature's value (a flag or a limit) while access is allowed; null when the plan lacks it or access is refused.",
    }),
  ),
});
