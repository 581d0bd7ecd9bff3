import { type Static, Type } from "typebox";

const Count = Type.Integer({ minimum: 0 });

export const Overview = Type.Object({
  metrics: Type.Object({
    computed_at: Type.String({ format: "date-time" }),
    window_days: Type.Integer({
      description: "The window of the trials, churn and recovery figures.",
    }),
    mrr: Type.Array(
      Type.Object({
        currency: Type.String(),
        amount: Type.String({ description: "Monthly recurring revenue, major units." }),
      }),
    ),
    subscriptions: Type.Array(
      Type.Object({ status: Type.String(), plan: Type.String(), count: Count }),
    ),
    trials: Type.Object({ ended: Count, converted: Count }),
    churned: Count,
    recovery: Type.Object({ failed: Count, recovered: Count }),
  }),
});
export type Overview = Static<typeof Overview>;
