import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CurrencyMismatchError,
  compareRank,
  monthlyAmount,
  type RankedPrice,
} from "../../src/billing/plan-rank.ts";
import { AppError } from "../../src/platform/errors.ts";

const usd = (amount: number, interval: string, intervalCount?: number): RankedPrice => ({
  amount,
  currency: "usd",
  interval,
  intervalCount,
});

describe("plan rank", () => {
  const monthly: [string, RankedPrice, number][] = [
    ["a monthly price is itself", usd(999, "month"), 999],
    ["a yearly price / 12, rounded half up", usd(29000, "year"), 2417],
    ["a yearly price that divides evenly", usd(12000, "year"), 1000],
    ["every 3 months / 3", usd(3000, "month", 3), 1000],
    ["every 2 years / 24", usd(2400, "year", 2), 100],
    ["a week × 52 / 12", usd(1000, "week"), 4333],
    ["every 2 weeks × 26 / 12", usd(1200, "week", 2), 2600],
    ["a day × 365 / 12", usd(100, "day"), 3042],
    ["exactly half a minor unit rounds up", usd(6, "year"), 1],
    ["less than half rounds down", usd(5, "year"), 0],
    ["free", usd(0, "month"), 0],
    [
      "a zero-decimal currency in its own units",
      { amount: 12000, currency: "jpy", interval: "year" },
      1000,
    ],
    [
      "a three-decimal currency in its own units",
      { amount: 12250, currency: "kwd", interval: "year" },
      1021,
    ],
  ];
  for (const [name, price, expected] of monthly) {
    test(`monthly amount: ${name}`, () => assert.equal(monthlyAmount(price), expected));
  }

  const order: [string, RankedPrice, RankedPrice, -1 | 0 | 1][] = [
    ["a dearer monthly plan is an upgrade", usd(2900, "month"), usd(999, "month"), 1],
    ["a cheaper one a downgrade", usd(999, "month"), usd(2900, "month"), -1],
    ["yearly at 12 × monthly ranks equal", usd(12000, "year"), usd(1000, "month"), 0],
    // 11999 / 12 = 999.92 rounds to 1000 for display, yet is below 1000.
    ["exact fractions, not the rounded figures", usd(11999, "year"), usd(1000, "month"), -1],
    ["a yearly discount is a downgrade from monthly", usd(29000, "year"), usd(2900, "month"), -1],
    ["weekly against monthly", usd(250, "week"), usd(1000, "month"), 1],
    [
      "currency codes compare case-insensitively",
      usd(999, "month"),
      { ...usd(999, "month"), currency: "USD" },
      0,
    ],
  ];
  for (const [name, a, b, expected] of order) {
    test(`compareRank: ${name}`, () => {
      assert.equal(compareRank(a, b), expected);
      assert.equal(compareRank(b, a), -expected || 0);
    });
  }

  test("plans of different currencies are refused with a typed 400 error", () => {
    const eur = { amount: 999, currency: "eur", interval: "month" };
    assert.throws(
      () => compareRank(usd(999, "month"), eur),
      (err: unknown) =>
        err instanceof CurrencyMismatchError &&
        err instanceof AppError &&
        err.code === "invalid" &&
        err.currencies.join() === "usd,eur" &&
        /usd and eur/.test(err.message),
    );
  });

  test("an interval Stripe does not have, or a count below 1, has no rank", () => {
    assert.throws(() => monthlyAmount(usd(999, "fortnight")), /no monthly amount/);
    assert.throws(() => monthlyAmount(usd(999, "month", 0)), /no monthly amount/);
    assert.throws(() => monthlyAmount(usd(9.5, "month")), /not minor units/);
  });
});
