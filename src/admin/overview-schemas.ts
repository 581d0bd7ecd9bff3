import { type Static, Type } from "typebox";

const Count = Type.Integer({ minimum: 0 });

export const Overview = Type.Object({
  metrics: Type.Object({
    computed_at: Type.String({ format: "date-time" }),
    window_days: Type.Integer({
      description: "The window of the trials, churn, recovery and failed-payment figures.",
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
  failures: Type.Object({
    failed_payments: Type.Integer({
      minimum: 0,
      description: "Failed payment attempts in the window.",
    }),
    webhook_events: Type.Object(
      { failed: Count, retrying: Count, pending: Count },
      {
        description:
          "Stored Stripe events by state; `failed` ones are dead-lettered (replay them).",
      },
    ),
    failed_emails: Type.Integer({ minimum: 0, description: "Emails whose retries are spent." }),
    dead_jobs: Type.Array(Type.Object({ queue: Type.String(), count: Count }), {
      description:
        "Jobs in each dead-letter queue (pg-boss's counts, refreshed every minute or so).",
    }),
  }),
});
export type Overview = Static<typeof Overview>;
