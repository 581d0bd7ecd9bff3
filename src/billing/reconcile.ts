import Stripe from "stripe";
import { type AuditContext, withActor } from "../audit/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { linkThroughCheckout } from "./checkout-events.ts";
import { syncInvoice } from "./invoices-service.ts";
import { recordInvoiceFailed, recordInvoicePaid, recordRefunds } from "./payments-service.ts";
import { type Checkpoint, Lease, type ListKind, readCheckpoint } from "./reconcile-checkpoint.ts";
import {
  failureRecorded,
  invoiceDrift,
  PlanIds,
  paymentMissing,
  refundMissing,
  subscriptionDrift,
} from "./reconcile-compare.ts";
import {
  type Backoff,
  DEFAULT_BACKOFF,
  eventsBetween,
  listPage,
  newestEventTime,
  withBackoff,
} from "./reconcile-stripe.ts";
import { recordPayment, syncSubscription } from "./stripe-events.ts";
import { RetryLater } from "./subscription-projection.ts";

// Reconciliation with Stripe (docs/operations.md, 'Reconciliation'): webhooks are at-least-once
// only while the endpoint works, so a job reads what changed at Stripe, compares it with the
// database and heals each difference through the very functions the webhook handlers call
// (stripe-events.ts), with their version marker and unique keys: a heal racing a late delivery
// writes the same facts once, and an older read never overwrites a newer row.

export const RECONCILE_JOB = "billing.reconcile";

/** Who heals, in the audit trail. */
export const RECONCILE_ACTOR: AuditContext = {
  actor: { kind: "system", job: RECONCILE_JOB },
  reason: "reconcile",
};

export const HEAL_KINDS = [
  "subscription",
  "invoice",
  "payment",
  "payment_failed",
  "refund",
] as const;
export type HealKind = (typeof HEAL_KINDS)[number];

export interface ReconcileOptions {
  /** Compare and report only: nothing is written, the checkpoint included. */
  dryRun?: boolean;
  /** Read the events since this time (unix seconds) instead of the checkpoint, which stays. */
  since?: number;
  /** Stripe objects this run reads at most (RECONCILE_MAX_OBJECTS). */
  maxObjects: number;
  backoff?: Backoff;
  /** Each heal as it happens (the metric). */
  onHeal?: (kind: HealKind) => void;
}

export interface ReconcileReport {
  dryRun: boolean;
  /** Healed (or, in a dry run, to heal) per kind. */
  healed: Record<HealKind, number>;
  /** Stripe objects read, events included. */
  examined: number;
  /** Objects that could not be healed yet (no owner known): the webhook path would retry them. */
  unresolved: string[];
  /** False when the run stopped at its budget: the next run continues from the checkpoint. */
  complete: boolean;
}

export type ReconcileDeps = BillingDeps & { logger: Logger };

/** One run's state: its budget, what it has examined already, and what it found. */
class Run {
  readonly report: ReconcileReport;
  readonly seen = new Set<string>();
  readonly planIds: PlanIds;
  readonly backoff: Backoff;
  readonly deps: ReconcileDeps;
  readonly options: ReconcileOptions;

  constructor(deps: ReconcileDeps, options: ReconcileOptions) {
    this.deps = deps;
    this.options = options;
    this.planIds = new PlanIds(deps.db);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.report = {
      dryRun: Boolean(options.dryRun),
      healed: Object.fromEntries(HEAL_KINDS.map((k) => [k, 0])) as Record<HealKind, number>,
      examined: 0,
      unresolved: [],
      complete: true,
    };
  }

  read(n = 1): void {
    this.report.examined += n;
  }

  get exhausted(): boolean {
    return this.report.examined >= this.options.maxObjects;
  }

  /** First time this run meets `key`? Objects are compared once per run, at their current state. */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  /**
   * Heals one difference (unless dry), counting it. An owner not known yet is looked for as the
   * webhook path does (the Checkout Session that created `subscription`, whose completion may be
   * the event that was lost), else the subject is reported unresolved.
   */
  async heal(
    kinds: HealKind[],
    subject: string,
    subscription: string | null,
    /** What differed, for the log: the fields, or the missing fact. */
    why: string[],
    fix: () => Promise<unknown>,
  ): Promise<void> {
    if (kinds.length === 0) return;
    if (!this.report.dryRun) {
      try {
        await withBackoff(this.backoff, fix);
      } catch (err) {
        if (!(err instanceof RetryLater)) throw err;
        const linked =
          subscription !== null &&
          (await withBackoff(this.backoff, () => linkThroughCheckout(this.deps, subscription)));
        if (linked) {
          await withBackoff(this.backoff, fix);
        } else {
          this.report.unresolved.push(subject);
          this.deps.logger.warn({ subject, reason: err.message }, "reconcile: cannot heal yet");
          return;
        }
      }
    }
    for (const kind of kinds) {
      this.report.healed[kind]++;
      this.options.onHeal?.(kind);
    }
    const dryRun = this.report.dryRun;
    this.deps.logger.info({ subject, kinds, why, dryRun }, "reconcile: healed");
  }
}

function subscriptionOfInvoice(inv: Stripe.Invoice): string | null {
  const sub = inv.parent?.subscription_details?.subscription;
  return typeof sub === "string" ? sub : (sub?.id ?? null);
}

async function examineSubscription(run: Run, sub: Stripe.Subscription): Promise<void> {
  if (!run.first(`sub:${sub.id}`)) return;
  const drift = await subscriptionDrift(run.deps.db, run.planIds, sub);
  if (drift.length === 0) return;
  await run.heal(["subscription"], sub.id, sub.id, drift, () => syncSubscription(run.deps, sub.id));
}

/**
 * An invoice: its `succeeded` payment when it is paid and has none (recorded as `invoice.paid`
 * does, which writes the invoice too), else its row in the users' invoices.
 */
async function examineInvoice(run: Run, inv: Stripe.Invoice): Promise<void> {
  const id = inv.id;
  if (!id || !run.first(`inv:${id}`)) return;
  const drift = await invoiceDrift(run.deps.db, inv);
  const invoiceKind: HealKind[] = drift.length > 0 ? ["invoice"] : [];
  const sub = subscriptionOfInvoice(inv);
  if (await paymentMissing(run.deps.db, inv)) {
    await run.heal(["payment", ...invoiceKind], id, sub, ["no succeeded payment", ...drift], () =>
      recordPayment(run.deps, id, recordInvoicePaid),
    );
  } else {
    await run.heal(invoiceKind, id, sub, drift, () => syncInvoice(run.deps, id));
  }
}

/** A failed attempt, as its `invoice.payment_failed` event reports it: one row per attempt. */
async function examineFailure(run: Run, event: Stripe.InvoicePaymentFailedEvent): Promise<void> {
  const inv = event.data.object;
  const attempt = inv.attempt_count;
  if (!inv.id || !run.first(`fail:${inv.id}:${attempt}`)) return;
  if (await failureRecorded(run.deps.db, inv.id, attempt)) return;
  const at = { attempt, created: event.created };
  const id = inv.id;
  const why = [`no failed payment for attempt ${attempt}`];
  await run.heal(["payment_failed"], `${id}#${attempt}`, subscriptionOfInvoice(inv), why, () =>
    recordPayment(run.deps, id, (d, facts) => recordInvoiceFailed(d, facts, at)),
  );
}

async function examineRefund(run: Run, refund: Stripe.Refund): Promise<void> {
  if (!run.first(`re:${refund.id}`)) return;
  const charge = typeof refund.charge === "string" ? refund.charge : refund.charge?.id;
  if (!charge || !(await refundMissing(run.deps.db, refund))) return;
  const why = ["no refunded payment"];
  await run.heal(["refund"], refund.id, null, why, () => recordRefunds(run.deps, charge));
}

/** Reads an object an event names, at its current state; undefined when Stripe has it no more. */
async function current<T>(run: Run, read: () => Promise<T>): Promise<T | undefined> {
  run.read();
  try {
    return await withBackoff(run.backoff, read);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === "resource_missing") {
      return undefined;
    }
    throw err;
  }
}

/** What one event says changed, compared at Stripe's current state (once per run per object). */
async function examineEvent(run: Run, event: Stripe.Event): Promise<void> {
  const { stripe } = run.deps;
  if (event.type === "invoice.payment_failed") await examineFailure(run, event);
  const object = event.data.object;
  if (object.object === "subscription") {
    const id = object.id;
    if (run.seen.has(`sub:${id}`)) return;
    const sub = await current(run, () => stripe.subscriptions.retrieve(id));
    if (sub) await examineSubscription(run, sub);
  } else if (object.object === "invoice") {
    const id = object.id;
    if (!id || run.seen.has(`inv:${id}`)) return;
    const inv = await current(run, () => stripe.invoices.retrieve(id));
    if (inv) await examineInvoice(run, inv);
  } else if (object.object === "charge") {
    const charge = object.id;
    if (!run.first(`ch:${charge}`)) return;
    const refunds = await current(run, () => stripe.refunds.list({ charge, limit: 100 }));
    for (const refund of refunds?.data ?? []) await examineRefund(run, refund);
  }
}

/**
 * The first run's pass over every subscription, invoice and refund Stripe lists, newest first,
 * page by page from the checkpoint's cursor. Answers whether it finished.
 */
async function fullPass(run: Run, checkpoint: Checkpoint, lease: Lease | undefined) {
  const kinds: ListKind[] = ["subscriptions", "invoices", "refunds"];
  const start = checkpoint.listKind ? kinds.indexOf(checkpoint.listKind) : 0;
  for (const kind of kinds.slice(start)) {
    let cursor = kind === checkpoint.listKind ? checkpoint.listCursor : null;
    for (;;) {
      if (run.exhausted) return false;
      const page = await withBackoff(run.backoff, () => listPage(run.deps.stripe, kind, cursor));
      run.read(page.data.length);
      for (const object of page.data) {
        if (object.object === "subscription") await examineSubscription(run, object);
        else if (object.object === "invoice") await examineInvoice(run, object);
        else await examineRefund(run, object);
      }
      cursor = page.data.at(-1)?.id ?? null;
      if (!page.hasMore || !cursor) break;
      await lease?.save({ listKind: kind, listCursor: cursor });
    }
    const next = kinds[kinds.indexOf(kind) + 1] ?? null;
    await lease?.save({ listKind: next, listCursor: null });
  }
  await lease?.save({ fullPassDone: true, listKind: null, listCursor: null });
  return true;
}

/**
 * How far before its checkpoint a run starts reading events again: an event created in the very
 * second the last run stopped, or listed by Stripe a moment late, is not missed. Re-read events
 * cost a read each; what they name is healed already and compares equal.
 */
export const OVERLAP_SECONDS = 300;

/** The first window tried; an empty one doubles the next, a full one is narrowed. */
const FIRST_WINDOW_SECONDS = 86_400;

/**
 * Stripe's events from `from` to the newest one now, in ascending windows of time, each saved as
 * the checkpoint once done. Answers whether it reached the newest.
 */
async function eventsPass(run: Run, from: number, lease: Lease | undefined): Promise<boolean> {
  const until = await newestEventTime(run.deps.stripe, run.backoff);
  run.read();
  if (until === undefined) return true;
  let start = from;
  let span = FIRST_WINDOW_SECONDS;
  while (start <= until) {
    if (run.exhausted) return false;
    const end = Math.min(start + span, until + 1);
    const window = await eventsBetween(run.deps.stripe, run.backoff, start, end, (n) =>
      run.read(n),
    );
    if ("oldestSeen" in window) {
      span = Math.max(1, Math.min(Math.floor(span / 2), window.oldestSeen - start));
      continue;
    }
    for (const event of window.events) await examineEvent(run, event);
    start = end;
    await lease?.save({ eventsSince: start });
    if (window.events.length < 100) span *= 2;
  }
  return true;
}

/**
 * One reconciliation run. The first ever run passes over every subscription, invoice and refund,
 * then every run reads the events since its checkpoint (all Stripe keeps, the first time). Takes
 * the lease (ReconcileBusy when another run holds it) unless dry; runs as the reconcile actor.
 */
export async function reconcile(
  deps: ReconcileDeps,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  return withActor(RECONCILE_ACTOR, async () => {
    const run = new Run(deps, options);
    const dry = run.report.dryRun;
    const taken = dry ? undefined : await Lease.take(deps.db);
    const checkpoint = taken?.checkpoint ?? (await readCheckpoint(deps.db));
    // An ad-hoc window (--since) reads only events and leaves the checkpoint where it is.
    const lease = options.since === undefined ? taken?.lease : undefined;
    try {
      let complete = true;
      if (options.since === undefined && !checkpoint.fullPassDone) {
        complete = await fullPass(run, checkpoint, lease);
      }
      if (complete) {
        const since =
          checkpoint.eventsSince === null ? 0 : checkpoint.eventsSince - OVERLAP_SECONDS;
        complete = await eventsPass(run, options.since ?? Math.max(0, since), lease);
      }
      run.report.complete = complete;
      return run.report;
    } finally {
      await taken?.lease.release();
    }
  });
}
