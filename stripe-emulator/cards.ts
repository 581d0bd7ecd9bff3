import type { StripeErrorCode } from "./errors.ts";

/**
 * Stripe's test PaymentMethod ids and what they do (docs.stripe.com/testing).
 * - `attach`: declining cards are refused when attached to a customer, with the card error.
 * - `charge`: what happens to a payment made with an attached card.
 */
export type CardBehavior =
  | "succeed"
  | "decline_generic"
  | "decline_insufficient_funds"
  | "customer_fail"
  | "auth_always"
  | "auth_on_setup";

export interface TestCard {
  brand: "visa" | "mastercard" | "amex";
  last4: string;
  funding: "credit" | "debit";
  behavior: CardBehavior;
}

export const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: "visa", last4: "4242", funding: "credit", behavior: "succeed" },
  pm_card_visa_debit: { brand: "visa", last4: "5556", funding: "debit", behavior: "succeed" },
  pm_card_mastercard: {
    brand: "mastercard",
    last4: "4444",
    funding: "credit",
    behavior: "succeed",
  },
  pm_card_amex: { brand: "amex", last4: "8431", funding: "credit", behavior: "succeed" },
  pm_card_visa_chargeDeclined: {
    brand: "visa",
    last4: "0002",
    funding: "credit",
    behavior: "decline_generic",
  },
  // The older name, still found in community code; Stripe's table now lists the `visa_` one.
  pm_card_chargeDeclined: {
    brand: "visa",
    last4: "0002",
    funding: "credit",
    behavior: "decline_generic",
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: "visa",
    last4: "9995",
    funding: "credit",
    behavior: "decline_insufficient_funds",
  },
  pm_card_visa_chargeDeclinedInsufficientFunds: {
    brand: "visa",
    last4: "9995",
    funding: "credit",
    behavior: "decline_insufficient_funds",
  },
  pm_card_chargeCustomerFail: {
    brand: "visa",
    last4: "0341",
    funding: "credit",
    behavior: "customer_fail",
  },
  pm_card_authenticationRequired: {
    brand: "visa",
    last4: "3184",
    funding: "credit",
    behavior: "auth_always",
  },
  pm_card_authenticationRequiredOnSetup: {
    brand: "visa",
    last4: "3155",
    funding: "credit",
    behavior: "auth_on_setup",
  },
};

export interface Decline {
  code: StripeErrorCode;
  declineCode: string;
  message: string;
}

export const GENERIC_DECLINE: Decline = {
  code: "card_declined",
  declineCode: "generic_decline",
  message: "Your card was declined.",
};

export const INSUFFICIENT_FUNDS: Decline = {
  code: "card_declined",
  declineCode: "insufficient_funds",
  message: "Your card has insufficient funds.",
};

/** Cards that cannot be attached: the decline Stripe answers at attach time. */
export function attachDecline(behavior: CardBehavior): Decline | null {
  if (behavior === "decline_generic") return GENERIC_DECLINE;
  if (behavior === "decline_insufficient_funds") return INSUFFICIENT_FUNDS;
  return null;
}

export type ChargeOutcome =
  | { kind: "succeeded" }
  | { kind: "declined"; decline: Decline }
  | { kind: "requires_action" };

/**
 * What a payment attempt does. `onSession` is a customer-present confirmation (first invoice,
 * `paymentIntents.confirm`); renewals and retries are off-session. `authenticated` is true when
 * the customer has just completed 3-D Secure for this very payment.
 */
export function chargeOutcome(
  behavior: CardBehavior,
  opts: { onSession: boolean; setUp: boolean; authenticated: boolean },
): ChargeOutcome {
  switch (behavior) {
    case "succeed":
      return { kind: "succeeded" };
    case "decline_generic":
    case "customer_fail":
      return { kind: "declined", decline: GENERIC_DECLINE };
    case "decline_insufficient_funds":
      return { kind: "declined", decline: INSUFFICIENT_FUNDS };
    case "auth_always":
      return opts.authenticated ? { kind: "succeeded" } : { kind: "requires_action" };
    case "auth_on_setup":
      if (opts.authenticated || opts.setUp) return { kind: "succeeded" };
      return { kind: "requires_action" };
    default:
      return { kind: "succeeded" };
  }
}

/**
 * Stripe's test tokens (`tok_visa`, `tok_chargeDeclined`, …) stand for the same cards as the
 * PaymentMethod ids (`pm_card_visa`, …): `paymentMethods.create` takes them as `card[token]`.
 */
export function cardForToken(token: string): TestCard | undefined {
  if (!token.startsWith("tok_")) return undefined;
  return TEST_CARDS[`pm_card_${token.slice(4)}`];
}

/**
 * What confirming a SetupIntent does with a card: the cards that cannot be attached decline
 * the setup with the same error; both 3-D Secure cards ask for authentication (a setup is
 * customer-present), which `authenticated` stands for; `chargeCustomerFail` sets up fine and
 * only fails when charged.
 */
export function setupOutcome(behavior: CardBehavior, authenticated: boolean): ChargeOutcome {
  const decline = attachDecline(behavior);
  if (decline) return { kind: "declined", decline };
  const needs3ds = behavior === "auth_always" || behavior === "auth_on_setup";
  return needs3ds && !authenticated ? { kind: "requires_action" } : { kind: "succeeded" };
}
