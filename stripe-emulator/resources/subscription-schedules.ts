import type Stripe from "stripe";
import { discountIds } from "../billing/discounts.ts";
import { customerIdOf } from "../billing/invoicing.ts";
import { changeSubscription, isEnded } from "../billing/lifecycle.ts";
import { PRORATIONS, parsePhases, timestamp } from "../billing/schedule-phases.ts";
import {
  advanceSchedule,
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
import { buildPhase, buildSchedule } from "../builders/schedule.ts";
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
    discounts: discountIds(sub).map((id) => ({ coupon: null, discount: id, promotion_code: null })),
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
    customer: customer.id,
    currentDiscounts: [],
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
  const managed = scheduledSubscription(ctx, sched);
  if (raw) {
    const first = raw[0];
    if (active && (!isRecord(first) || first.start_date === undefined)) {
      throw missingParam("phases[0][start_date]");
    }
    phases = parsePhases(ctx, raw, {
      now,
      firstStart: sched.phases[0]?.start_date ?? now,
      createsSubscription: !active,
      trialEnd: managed?.trial_end,
      customer: customerId,
      currentDiscounts: managed ? discountIds(managed) : [],
    });
    if (!active) refuseBackdating(phases[0]?.start_date ?? now, now);
  }
  // `end_date: now` on the running phase ends it with this request: the next one starts now.
  const endsNow = phases?.find(
    (ph) => active && ph.start_date === sched.current_phase?.start_date && ph.end_date === now,
  );
  const current = endsNow ?? (phases && active ? phaseAt({ ...sched, phases }, now) : undefined);
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
  if (managed && active) {
    const proration = optEnum(p, "proration_behavior", PRORATIONS) ?? "create_prorations";
    if (current && !endsNow) applyPhase(ctx, managed, current, proration);
    syncCancelAt(ctx, sched, managed);
    if (endsNow) advanceSchedule(ctx, sched);
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
