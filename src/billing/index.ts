import type { Feature, JobDeps } from "../platform/feature.ts";
import { cronEvery } from "../platform/jobs/definitions.ts";
import type { EventsHandler } from "../webhooks/index.ts";
import { accessClaimOf } from "./access-service.ts";
import { billingCommands } from "./billing-cli.ts";
import { billingDepsOf } from "./billing-deps.ts";
import { billingModule } from "./billing-module.ts";
import { latestBusinessMetrics } from "./business-metrics.ts";
import { businessMetricsCommands } from "./business-metrics-cli.ts";
import { registerBusinessGauges } from "./business-metrics-gauges.ts";
import { businessMetricsJob } from "./business-metrics-jobs.ts";
import { seedDemoPlans } from "./demo-plans.ts";
import { reconcileCommands } from "./reconcile-cli.ts";
import { reconcileHealedCounter, reconcileJob } from "./reconcile-jobs.ts";
import { registerEmbeddedWebhook } from "./stripe-client.ts";
import { handleEvents } from "./stripe-events.ts";
import { subscriptionStatusOf } from "./subscription-queries.ts";
import { checkWebhookEndpoints } from "./webhook-endpoint-check.ts";

// For the staff admin API (src/admin/).
export { billingDepsOf } from "./billing-deps.ts";
export {
  Entitlements as EntitlementsSchema,
  Payment,
  Plan,
  Subscription,
  SubscriptionStatus,
} from "./billing-schemas.ts";
export { computeBusinessMetrics, WINDOW_DAYS } from "./business-metrics.ts";
export { Invoice } from "./hosted-schemas.ts";
export { invoiceBody, listInvoices } from "./invoices-service.ts";
export { currencyExponent, formatMinor } from "./money.ts";
export { listPayments, paymentBody } from "./payments-service.ts";
export {
  type CatalogEdit,
  createCatalogPlan,
  editCatalogPlan,
  type NewCatalogPlan,
} from "./plan-catalog.ts";
export {
  deactivatePlan,
  findPlan,
  listAllPlans,
  type Plan as PlanRow,
  type PlanBody,
  planBody,
  syncPlans,
} from "./plans-service.ts";
export {
  findStaffPayment,
  listStaffPayments,
  PAYMENT_STATUSES,
  type StaffPaymentBody,
  type StaffPaymentFilter,
  staffPaymentBody,
} from "./staff-payments.ts";
export {
  actionableSubscription,
  cancelForStaff,
  changePlanForStaff,
  countFailedPayments,
  extendTrial,
  grantFreePeriod,
  listSubscriptionsForStaff,
  type StaffSubscriptionBody,
  type SubscriptionFilter,
  subscriptionForStaff,
} from "./staff-service.ts";
export { openStripe } from "./stripe-client.ts";
export { receiveStripeEvent, stripeWebhookSource } from "./stripe-webhook-source.ts";
export { subscriptionStatus } from "./subscriptions-service.ts";

/**
 * What Stripe events mean to billing, as the webhook ledger runs them (src/features.ts injects it):
 * `handleEvents` with billing's dependencies out of the job's.
 */
export const handleStripeEvents: EventsHandler<
  Pick<JobDeps, "database" | "stripe" | "jobs" | "config" | "logger">
> = (deps, events, batch) =>
  handleEvents({ ...billingDepsOf(deps), logger: deps.logger }, events, batch);

/**
 * Plans, subscriptions and payments: `/api/subscriptions/…`, the `plans:*` commands, and the
 * business metrics on `/metrics`.
 */
export const billing: Feature = {
  name: "billing",
  routes: billingModule,
  commands: { ...billingCommands, ...businessMetricsCommands, ...reconcileCommands },
  jobs: [businessMetricsJob, reconcileJob],
  schedules(config) {
    // The settings' parser accepts only intervals that cron repeats exactly.
    const metrics = cronEvery(config.BUSINESS_METRICS_INTERVAL);
    const reconcile = cronEvery(config.RECONCILE_INTERVAL);
    return {
      ...(metrics ? { [businessMetricsJob.name]: metrics } : {}),
      ...(reconcile ? { [reconcileJob.name]: reconcile } : {}),
    };
  },
  provides: { subscriptionStatusOf, accessClaimOf },
  async onStart(services, { embeddedStripe }) {
    reconcileHealedCounter(services.metrics.registry);
    // Every process's /metrics shows the stored business metrics.
    registerBusinessGauges(
      services.metrics.registry,
      () => latestBusinessMetrics(services.database.db),
      (err) => services.logger.warn({ err }, "business metrics: the snapshot could not be read"),
    );
    // The embedded default sells demo plans from the first start (emulator and database).
    if (embeddedStripe && services.stripe.emulator) {
      await seedDemoPlans(services.database.db, services.stripe.stripe, services.logger);
    }
  },
  onListen(services, { host, port }) {
    registerEmbeddedWebhook(services.stripe, host, port);
    // Not awaited: Stripe's answer only adds a warning, it never holds the start. Never rejects.
    void checkWebhookEndpoints(services.stripe, services.logger);
  },
};
