import type Stripe from "stripe";
import { parseItems, validatePrices } from "../billing/create-subscription.ts";
import { customerIdOf } from "../billing/invoicing.ts";
import { changeSubscription, isEnded } from "../billing/lifecycle.ts";
import { addInterval, nextPeriodEnd } from "../billing/periods.ts";
import {
  applyPhase,
  cancelSchedule,
  changeSchedule,
  phaseAt,
  releaseSchedule,
  requireOpen,
  scheduledSubscription,
  startSchedule,
  syncCancelAt,
} from "../billing/schedules.ts";
import { buildPhase, buildSchedule, type PhaseSeed } from "../builders/schedule.ts";
import { type Ctx, testClockOf } from "../context.ts";
import { invalidParam, invalidRequest, missingParam, StripeApiError } from "../errors.ts";
import { matchesRange, paginate } from "../lists.ts";
import {
  expandList,
  isRecord,
  mergeMetadata,
  optArr,
  optBool,
  optEnum,
  optInt,
  optNullableStr,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { getCustomer } from "./customers.ts";
import { getSubscription } from "./subscriptions.ts";

type Schedule = Stripe.SubscriptionSchedule;

const END_BEHAVIORS = ["release", "cancel"] as const;
const PRORATIONS = ["always_invoice", "create_prorations", "none"] as const;

function getSchedule(ctx: Ctx, id: string): Schedule {
  const sched = ctx.state.subscriptionSchedules[id];
  if (sched) return sched;
  throw new StripeApiError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such subscription schedule: '${id}'`,
    param: "schedule",
  });
}

/** `now` or a Unix timestamp, as `start_date`/`end_date`/`trial_end` take them. */
function timestamp(p: Params, key: string, path: string, now: number): number | undefined {
  const raw = optStr(p, key);
  if (raw === undefined) return undefined;
  if (raw === "now") return now;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw invalidParam(path, `Invalid timestamp: ${raw}`);
  return value;
}

interface PhaseRules {
  now: number;
  /** The first phase's start when it does not give one. */
  firstStart: number;
  /** The phases create the subscription: only then do trials and `phase_start` apply here. */
  createsSubscription: boolean;
  /** The managed subscription's trial end: a phase may repeat it, which changes nothing. */
  trialEnd?: number | null;
}

function phaseEnd(p: Params, at: string, start: number, next: unknown, rules: PhaseRules) {
  const end = timestamp(p, "end_date", `${at}[end_date]`, rules.now);
  const duration = optObj(p, "duration");
  if (end !== undefined && duration) {
    throw invalidRequest("You may only specify one of these parameters: duration, end_date.", at);
  }
  if (end !== undefined) return end;
  if (duration) {
    const interval = reqStr(duration, "interval") as Stripe.Price.Recurring.Interval;
    return addInterval(start, interval, optInt(duration, "interval_count") ?? 1);
  }
  const nextStart = isRecord(next) ? timestamp(next, "start_date", at, rules.now) : undefined;
  if (nextStart !== undefined) return nextStart;
  if (next !== undefined) {
    throw invalidParam(
      `${at}[end_date]`,
      "Every phase but the last must have an `end_date` or a `duration`.",
    );
  }
  return undefined;
}

/** Features of a phase that only take effect on a subscription the schedule creates. */
function checkCreationOnly(p: Params, at: string, index: number, rules: PhaseRules): void {
  if (rules.createsSubscription && index === 0) return;
  const unchanged = [undefined, "automatic", "false", String(rules.trialEnd ?? "")];
  for (const key of ["trial", "trial_end", "billing_cycle_anchor"]) {
    if (!unchanged.includes(p[key] as string | undefined)) {
      throw invalidParam(
        `${at}[${key}]`,
        `The emulator applies \`${key}\` only on the first phase of a schedule that creates its subscription.`,
      );
    }
  }
}

function parsePhase(
  ctx: Ctx,
  raw: unknown[],
  index: number,
  start: number,
  rules: PhaseRules,
): PhaseSeed {
  const at = `phases[${index}]`;
  const p = raw[index];
  if (!isRecord(p)) throw invalidParam(at, "Invalid phase.");
  checkCreationOnly(p, at, index, rules);
  const items = parseItems(ctx, p, "items");
  const currency = validatePrices(items);
  const first = items[0]?.price.recurring;
  const end =
    phaseEnd(p, at, start, raw[index + 1], rules) ??
    (first ? nextPeriodEnd(start, start, first) : start);
  if (end <= start) {
    throw invalidParam(`${at}[end_date]`, "A phase's end_date must be after its start_date.");
  }
  const trialEnd = optBool(p, "trial")
    ? end
    : (timestamp(p, "trial_end", `${at}[trial_end]`, rules.now) ?? null);
  const metadata = optObj(p, "metadata") ?? {};
  return {
    start,
    end,
    items,
    currency,
    prorationBehavior: optEnum(p, "proration_behavior", PRORATIONS) ?? "create_prorations",
    billingCycleAnchor: optEnum(p, "billing_cycle_anchor", ["automatic", "phase_start"]) ?? null,
    trialEnd,
    metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])),
    description: optNullableStr(p, "description") ?? null,
  };
}

/** Phases with concrete dates: each starts where the one before ends. */
function parsePhases(
  ctx: Ctx,
  raw: unknown[],
  rules: PhaseRules,
): Stripe.SubscriptionSchedule.Phase[] {
  if (raw.length === 0) throw missingParam("phases");
  const seeds: PhaseSeed[] = [];
  for (const index of raw.keys()) {
    const p = raw[index];
    const given = isRecord(p)
      ? timestamp(p, "start_date", `phases[${index}]`, rules.now)
      : undefined;
    const previous = seeds.at(-1);
    const start = previous?.end ?? given ?? rules.firstStart;
    if (previous && given !== undefined && given !== previous.end) {
      throw invalidParam(
        `phases[${index}][start_date]`,
        "The start_date of a phase must be the end_date of the phase before it.",
      );
    }
    const seed = parsePhase(ctx, raw, index, start, rules);
    if (previous && seed.currency !== previous.currency) {
      throw invalidParam(
        `phases[${index}]`,
        "All phases of a schedule must use the same currency.",
      );
    }
    seeds.push(seed);
  }
  return seeds.map(buildPhase);
}

function refuseBackdating(start: number, now: number): void {
  if (start >= now) return;
  throw invalidParam(
    "start_date",
    "The emulator does not backdate subscription schedules: use `now` or a future timestamp.",
  );
}

function createFromSubscription(ctx: Ctx, subId: string, p: Params): Schedule {
  for (const key of ["customer", "phases", "start_date"]) {
    if (p[key] !== undefined) {
      throw invalidRequest(`You cannot set \`${key}\` if \`from_subscription\` is set.`, key);
    }
  }
  const sub = getSubscription(ctx, subId);
  if (isEnded(sub)) {
    throw invalidParam(
      "from_subscription",
      "A canceled subscription cannot be migrated to a schedule.",
    );
  }
  if (sub.schedule) {
    throw invalidParam(
      "from_subscription",
      `You cannot migrate a subscription that is already attached to a schedule: \`${String(sub.schedule)}\`.`,
    );
  }
  const customerId = customerIdOf(sub);
  const phase = buildPhase({
    start: Math.min(...sub.items.data.map((i) => i.current_period_start)),
    end: sub.cancel_at ?? Math.min(...sub.items.data.map((i) => i.current_period_end)),
    items: sub.items.data.map((i) => ({ price: i.price, quantity: i.quantity ?? 1 })),
    currency: sub.currency,
    prorationBehavior: "create_prorations",
    billingCycleAnchor: null,
    trialEnd: sub.status === "trialing" ? sub.trial_end : null,
    metadata: {},
    description: null,
  });
  const sched = buildSchedule(
    {
      customer: customerId,
      created: ctx.now(customerId),
      testClock: testClockOf(ctx.state, customerId),
      endBehavior:
        sub.cancel_at !== null
          ? "cancel"
          : (optEnum(p, "end_behavior", END_BEHAVIORS) ?? "release"),
      metadata: mergeMetadata({}, p),
      defaultPaymentMethod: null,
    },
    [phase],
  );
  sched.status = "active";
  sched.subscription = sub.id;
  sched.current_phase = { start_date: phase.start_date, end_date: phase.end_date };
  ctx.state.subscriptionSchedules[sched.id] = sched;
  ctx.emit("subscription_schedule.created", sched, { customerId });
  changeSubscription(ctx, sub, (s) => {
    s.schedule = sched.id;
  });
  return sched;
}

function create(ctx: Ctx, p: Params): Schedule {
  const fromSubscription = optStr(p, "from_subscription");
  if (fromSubscription !== undefined) return createFromSubscription(ctx, fromSubscription, p);
  const customer = getCustomer(ctx, reqStr(p, "customer"), "customer");
  const now = ctx.now(customer.id);
  const start = timestamp(p, "start_date", "start_date", now) ?? now;
  refuseBackdating(start, now);
  const phases = parsePhases(ctx, optArr(p, "phases") ?? [], {
    now,
    firstStart: start,
    createsSubscription: true,
  });
  const sched = buildSchedule(
    {
      customer: customer.id,
      created: now,
      testClock: testClockOf(ctx.state, customer.id),
      endBehavior: optEnum(p, "end_behavior", END_BEHAVIORS) ?? "release",
      metadata: mergeMetadata({}, p),
      defaultPaymentMethod: null,
    },
    phases,
  );
  if (start <= now) startSchedule(ctx, sched, true);
  ctx.state.subscriptionSchedules[sched.id] = sched;
  ctx.emit("subscription_schedule.created", sched, { customerId: customer.id });
  return sched;
}

/**
 * New phases replace the old ones. Once the schedule is active, the phase running now must keep
 * its start (Stripe does not let an update change the past), and the subscription takes the
 * current phase's items at once with the update's `proration_behavior`.
 */
function update(ctx: Ctx, sched: Schedule, p: Params): Schedule {
  requireOpen(sched, "update");
  const customerId = customerIdOf(sched);
  const now = ctx.now(customerId);
  const raw = optArr(p, "phases");
  const active = sched.status === "active";
  let phases: Stripe.SubscriptionSchedule.Phase[] | undefined;
  if (raw) {
    const first = raw[0];
    if (active && (!isRecord(first) || first.start_date === undefined)) {
      throw missingParam("phases[0][start_date]");
    }
    phases = parsePhases(ctx, raw, {
      now,
      firstStart: sched.phases[0]?.start_date ?? now,
      createsSubscription: !active,
      trialEnd: scheduledSubscription(ctx, sched)?.trial_end,
    });
    if (!active) refuseBackdating(phases[0]?.start_date ?? now, now);
  }
  const current = phases && active ? phaseAt({ ...sched, phases }, now) : undefined;
  if (phases && active && current?.start_date !== sched.current_phase?.start_date) {
    throw invalidParam(
      "phases",
      "You cannot change the start_date of the current phase, or phases that have already ended.",
    );
  }
  changeSchedule(ctx, sched, (s) => {
    if (phases) s.phases = phases;
    if (current) s.current_phase = { start_date: current.start_date, end_date: current.end_date };
    s.end_behavior = optEnum(p, "end_behavior", END_BEHAVIORS) ?? s.end_behavior;
    s.metadata = mergeMetadata(s.metadata ?? {}, p);
  });
  const sub = scheduledSubscription(ctx, sched);
  if (sub && active) {
    if (current)
      applyPhase(
        ctx,
        sub,
        current,
        optEnum(p, "proration_behavior", PRORATIONS) ?? "create_prorations",
      );
    syncCancelAt(ctx, sched, sub);
  }
  const first = sched.phases[0];
  if (!active && first && first.start_date <= now) startSchedule(ctx, sched, true);
  return sched;
}

function list(ctx: Ctx, p: Params): Schedule[] {
  const customer = optStr(p, "customer");
  const scheduled = optBool(p, "scheduled");
  const inRange = (value: number | null, key: string) =>
    p[key] === undefined || (value !== null && matchesRange(value, p[key]));
  return Object.values(ctx.state.subscriptionSchedules).filter(
    (s) =>
      (customer === undefined || s.customer === customer) &&
      (scheduled === undefined || (s.status === "not_started") === scheduled) &&
      inRange(s.created, "created") &&
      inRange(s.canceled_at, "canceled_at") &&
      inRange(s.completed_at, "completed_at") &&
      inRange(s.released_at, "released_at"),
  );
}

export const subscriptionScheduleRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/subscription_schedules",
    handler: ({ ctx, params }) => render(ctx.state, create(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/subscription_schedules/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getSchedule(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/subscription_schedules/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, update(ctx, getSchedule(ctx, args.id ?? ""), params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/subscription_schedules",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(list(ctx, params), params, "/v1/subscription_schedules"),
        expandList(params),
      ),
  },
  {
    method: "POST",
    path: "/v1/subscription_schedules/:id/release",
    handler: ({ ctx, params, args }) => {
      const sched = getSchedule(ctx, args.id ?? "");
      requireOpen(sched, "release");
      releaseSchedule(ctx, sched, optBool(params, "preserve_cancel_date") ?? false);
      return render(ctx.state, sched, expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/subscription_schedules/:id/cancel",
    handler: ({ ctx, params, args }) => {
      const sched = getSchedule(ctx, args.id ?? "");
      requireOpen(sched, "cancel");
      cancelSchedule(ctx, sched, {
        prorate: optBool(params, "prorate") ?? true,
        invoiceNow: optBool(params, "invoice_now") ?? true,
      });
      return render(ctx.state, sched, expandList(params));
    },
  },
];
