import { Gauge, type Registry } from "prom-client";
import { type BusinessMetricsSnapshot, WINDOW_DAYS } from "./business-metrics.ts";
import { currencyExponent } from "./money.ts";

const window = `${WINDOW_DAYS}d`;

type Read = () => Promise<BusinessMetricsSnapshot | undefined>;

/**
 * One read for every gauge of a scrape: prom-client collects the gauges of a scrape concurrently,
 * so they share the read in flight, and a scrape costs one primary-key read of the snapshot. A read
 * that fails leaves the business gauges out of that scrape rather than failing it: the HTTP and job
 * metrics matter most during a database outage.
 */
function shared(read: Read, onError: (err: unknown) => void): Read {
  let inFlight: Promise<BusinessMetricsSnapshot | undefined> | undefined;
  return () => {
    inFlight ??= read()
      .catch((err: unknown) => {
        onError(err);
        return undefined;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/**
 * Registers the business gauges (docs/operations.md, 'Business metrics') on `registry`. Each shows
 * the stored snapshot at scrape time: nothing is computed per scrape, and every API thread or
 * process shows the same values. Before the first snapshot the labelled gauges are absent.
 */
export function registerBusinessGauges(
  registry: Registry,
  read: Read,
  onError: (err: unknown) => void,
): void {
  const latest = shared(read, onError);
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, snapshot: BusinessMetricsSnapshot) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const snapshot = await latest();
        // A label set gone from the snapshot (a plan without subscriptions now) goes from here too.
        this.reset();
        if (snapshot) fill(this, snapshot);
      },
    });

  gauge(
    "billing_mrr",
    "Monthly recurring revenue by currency, in major units (active and past_due subscriptions, yearly / 12, seats and discounts counted, trials excluded)",
    ["currency"],
    (g, { metrics }) => {
      for (const { currency, amount } of metrics.mrr) {
        g.set({ currency }, amount / 10 ** currencyExponent(currency));
      }
    },
  );
  gauge(
    "billing_subscriptions",
    "Subscriptions by Stripe status and plan name",
    ["status", "plan"],
    (g, { metrics }) => {
      for (const { status, plan, count } of metrics.subscriptions) g.set({ status, plan }, count);
    },
  );
  gauge(
    "billing_trials_ended",
    "Trials that ended in the window (their end passed, or canceled during the trial)",
    ["window"],
    (g, { metrics }) => g.set({ window }, metrics.trials.ended),
  );
  gauge(
    "billing_trials_converted",
    "Trials that ended in the window and were followed by a successful payment",
    ["window"],
    (g, { metrics }) => g.set({ window }, metrics.trials.converted),
  );
  gauge(
    "billing_trial_conversion_ratio",
    "Converted / ended trials in the window (absent when no trial ended)",
    ["window"],
    (g, { metrics: { trials } }) => {
      if (trials.ended > 0) g.set({ window }, trials.converted / trials.ended);
    },
  );
  gauge(
    "billing_churned_subscriptions",
    "Paying subscriptions that ended (canceled) in the window",
    ["window"],
    (g, { metrics }) => g.set({ window }, metrics.churned),
  );
  gauge(
    "billing_failed_invoices",
    "Invoices whose first failed payment is in the window",
    ["window"],
    (g, { metrics }) => g.set({ window }, metrics.recovery.failed),
  );
  gauge(
    "billing_recovered_invoices",
    "Invoices that failed in the window and were paid since",
    ["window"],
    (g, { metrics }) => g.set({ window }, metrics.recovery.recovered),
  );
  gauge(
    "billing_payment_recovery_ratio",
    "Recovered / failed invoices in the window (absent when none failed)",
    ["window"],
    (g, { metrics: { recovery } }) => {
      if (recovery.failed > 0) g.set({ window }, recovery.recovered / recovery.failed);
    },
  );
  gauge(
    "billing_metrics_computed_timestamp_seconds",
    "When the business metrics shown were computed (Unix time; 0 before the first run)",
    [],
    (g, { computedAt }) => g.set(computedAt.getTime() / 1000),
  );
}
