import assert from "node:assert/strict";
import { test } from "node:test";
import { subscriptionTransitions } from "../../src/billing/billing-audit.ts";
import type { SubscriptionRow } from "../../src/billing/subscription-queries.ts";

// What a write of the projection records, for each kind of change: only the fields that changed,
// and nothing for a write that changed none of them.

const at = (day: number) => new Date(Date.UTC(2026, 0, day));
const base: SubscriptionRow = {
  id: "6f1c5a0e-0000-4000-8000-000000000001",
  userId: "6f1c5a0e-0000-4000-8000-0000000000aa",
  planId: "plan-a",
  stripeSubscriptionId: "sub_1",
  stripeCustomerId: "cus_1",
  status: "active",
  currentPeriodStart: at(1),
  currentPeriodEnd: at(31),
  cancelAtPeriodEnd: false,
  cancelAt: null,
  canceledAt: null,
  endedAt: null,
  trialStart: null,
  trialEnd: null,
  quantity: 1,
  unitAmount: 999,
  stripeScheduleId: null,
  discount: null,
  started: true,
  stripeCreatedAt: at(1),
  stripeSyncedAt: at(1),
  seq: 1,
  createdAt: at(1),
  updatedAt: at(1),
} as SubscriptionRow;
const row = (fields: Partial<SubscriptionRow>): SubscriptionRow => ({ ...base, ...fields });
const kinds = (before: SubscriptionRow | undefined, after: SubscriptionRow) =>
  subscriptionTransitions(before, after).map((e) => [e.kind, e.before, e.after]);

test("a new subscription: created (and trial.started while trialing)", () => {
  const [created, ...rest] = subscriptionTransitions(undefined, base);
  assert.equal(created?.kind, "subscription.created");
  assert.equal(created?.subjectId, "sub_1");
  assert.equal(created?.userId, base.userId);
  assert.deepEqual(created?.before, {});
  assert.deepEqual(created?.after, {
    status: "active",
    plan_id: "plan-a",
    quantity: 1,
    current_period_start: at(1).toISOString(),
    current_period_end: at(31).toISOString(),
  });
  assert.deepEqual(rest, []);
  const trialing = row({ status: "trialing", trialStart: at(1), trialEnd: at(15) });
  assert.deepEqual(
    subscriptionTransitions(undefined, trialing).map((e) => e.kind),
    ["subscription.created", "trial.started"],
  );
});

test("nothing that a transition is about changed: nothing recorded", () => {
  assert.deepEqual(kinds(base, row({ stripeSyncedAt: at(2), updatedAt: at(2), seq: 9 })), []);
  assert.deepEqual(kinds(base, { ...base }), []);
});

test("each change records its kind with only the fields that changed", () => {
  assert.deepEqual(kinds(base, row({ status: "past_due" })), [
    ["subscription.status_changed", { status: "active" }, { status: "past_due" }],
  ]);
  assert.deepEqual(kinds(base, row({ planId: "plan-b" })), [
    ["subscription.plan_changed", { plan_id: "plan-a" }, { plan_id: "plan-b" }],
  ]);
  assert.deepEqual(kinds(base, row({ quantity: 3 })), [
    ["subscription.plan_changed", { quantity: 1 }, { quantity: 3 }],
  ]);
  const canceling = row({ cancelAtPeriodEnd: true, canceledAt: at(5) });
  assert.deepEqual(kinds(base, canceling), [
    [
      "subscription.cancel_scheduled",
      { cancel_at_period_end: false, canceled_at: null },
      { cancel_at_period_end: true, canceled_at: at(5).toISOString() },
    ],
  ]);
  assert.deepEqual(kinds(canceling, base), [
    [
      "subscription.reactivated",
      { cancel_at_period_end: true, canceled_at: at(5).toISOString() },
      { cancel_at_period_end: false, canceled_at: null },
    ],
  ]);
  assert.deepEqual(
    kinds(base, row({ cancelAt: at(20) })).map(([k]) => k),
    ["subscription.cancel_scheduled"],
  );
  assert.deepEqual(kinds(base, row({ currentPeriodStart: at(31), currentPeriodEnd: at(59) })), [
    [
      "subscription.renewed",
      { current_period_start: at(1).toISOString(), current_period_end: at(31).toISOString() },
      { current_period_start: at(31).toISOString(), current_period_end: at(59).toISOString() },
    ],
  ]);
});

test("an ending carries its cancellation fields; a trial's end is trial.ended", () => {
  const canceling = row({ cancelAtPeriodEnd: true, canceledAt: at(5) });
  assert.deepEqual(kinds(canceling, row({ ...canceling, status: "canceled", endedAt: at(31) })), [
    [
      "subscription.status_changed",
      { status: "active", ended_at: null },
      { status: "canceled", ended_at: at(31).toISOString() },
    ],
  ]);
  const trialing = row({ status: "trialing", trialStart: at(1), trialEnd: at(15) });
  assert.deepEqual(
    kinds(trialing, row({ ...trialing, status: "active" })).map(([k]) => k),
    ["subscription.status_changed", "trial.ended"],
  );
  assert.deepEqual(
    kinds(base, trialing).map(([k]) => k),
    ["subscription.status_changed", "trial.started"],
  );
});
