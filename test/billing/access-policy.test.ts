import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AccessAnswer,
  type AccessFacts,
  accessPolicy,
} from "../../src/billing/access-policy.ts";

// The policy table of docs/access.md, row by row, at both sides of every boundary.

const DAY = 86_400_000;
const T0 = new Date("2026-03-01T00:00:00Z");
const at = (days: number, ms = 0) => new Date(T0.getTime() + days * DAY + ms);
const settings = { gracePastDue: 7 * 86_400, graceIncomplete: 0 };

function facts(change: Partial<AccessFacts>): AccessFacts {
  return {
    status: "active",
    cancelAtPeriodEnd: false,
    cancelAt: null,
    currentPeriodStart: at(0),
    currentPeriodEnd: at(30),
    createdAt: at(-60),
    firstFailureAt: null,
    ...change,
  };
}

const yes = (reason: AccessAnswer["reason"], until: Date | null = null): AccessAnswer => ({
  allowed: true,
  reason,
  until,
});
const no = (reason: AccessAnswer["reason"]): AccessAnswer => ({
  allowed: false,
  reason,
  until: null,
});

const rows: [string, AccessFacts | null, Date, AccessAnswer, typeof settings?][] = [
  ["no subscription", null, at(1), no("no_subscription")],
  ["active", facts({}), at(1), yes("active")],
  ["active past its period end (renewal not yet heard)", facts({}), at(31), yes("active")],
  ["trialing", facts({ status: "trialing" }), at(1), yes("trialing")],
  // A cancellation at the period end: allowed strictly before it, refused from it on.
  [
    "active, canceling at period end, before it",
    facts({ cancelAtPeriodEnd: true }),
    at(30, -1),
    yes("canceling", at(30)),
  ],
  [
    "active, canceling at period end, at it",
    facts({ cancelAtPeriodEnd: true }),
    at(30),
    no("canceled"),
  ],
  [
    "trialing, canceling at period end",
    facts({ status: "trialing", cancelAtPeriodEnd: true }),
    at(2),
    yes("canceling", at(30)),
  ],
  [
    "active with cancel_at before the period end",
    facts({ cancelAt: at(10) }),
    at(9),
    yes("canceling", at(10)),
  ],
  ["active with cancel_at, after it", facts({ cancelAt: at(10) }), at(10, 1), no("canceled")],
  // past_due: GRACE_PAST_DUE from the first failed renewal.
  [
    "past_due, just after the first failure",
    facts({ status: "past_due", firstFailureAt: at(0, 3_600_000) }),
    at(0, 3_600_001),
    yes("payment_past_due", at(7, 3_600_000)),
  ],
  [
    "past_due, 1 ms before the grace ends",
    facts({ status: "past_due", firstFailureAt: at(1) }),
    at(8, -1),
    yes("payment_past_due", at(8)),
  ],
  [
    "past_due, when the grace ends",
    facts({ status: "past_due", firstFailureAt: at(1) }),
    at(8),
    no("payment_overdue"),
  ],
  [
    "past_due, no failure recorded yet: the period start stands in",
    facts({ status: "past_due" }),
    at(6),
    yes("payment_past_due", at(7)),
  ],
  [
    "past_due, no failure and no period: created stands in",
    facts({ status: "past_due", currentPeriodStart: null }),
    at(6),
    no("payment_overdue"),
  ],
  [
    "past_due in grace and canceling before the grace ends: until the cancellation",
    facts({ status: "past_due", firstFailureAt: at(1), cancelAt: at(3) }),
    at(2),
    yes("payment_past_due", at(3)),
  ],
  [
    "past_due with GRACE_PAST_DUE 0",
    facts({ status: "past_due", firstFailureAt: at(1) }),
    at(1),
    no("payment_overdue"),
    { gracePastDue: 0, graceIncomplete: 0 },
  ],
  // incomplete: GRACE_INCOMPLETE from creation, 0 by default.
  [
    "incomplete, default grace 0",
    facts({ status: "incomplete", createdAt: at(0) }),
    at(0),
    no("payment_incomplete"),
  ],
  [
    "incomplete within a 1-hour grace",
    facts({ status: "incomplete", createdAt: at(0) }),
    at(0, 3_599_999),
    yes("payment_incomplete", at(0, 3_600_000)),
    { gracePastDue: 0, graceIncomplete: 3600 },
  ],
  [
    "incomplete when a 1-hour grace ends",
    facts({ status: "incomplete", createdAt: at(0) }),
    at(0, 3_600_000),
    no("payment_incomplete"),
    { gracePastDue: 0, graceIncomplete: 3600 },
  ],
  ["unpaid", facts({ status: "unpaid" }), at(1), no("unpaid")],
  ["paused", facts({ status: "paused" }), at(1), no("paused")],
  ["incomplete_expired", facts({ status: "incomplete_expired" }), at(1), no("incomplete_expired")],
  ["canceled", facts({ status: "canceled" }), at(1), no("canceled")],
  [
    "canceled with cancel_at_period_end still set",
    facts({ status: "canceled", cancelAtPeriodEnd: true }),
    at(1),
    no("canceled"),
  ],
  ["a status Stripe may add later", facts({ status: "something_new" }), at(1), no("canceled")],
];

describe("access policy", () => {
  for (const [name, f, now, expected, s] of rows) {
    test(name, () => {
      assert.deepEqual(accessPolicy(f, s ?? settings, now), expected);
    });
  }
});
