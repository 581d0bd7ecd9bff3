import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, noSuchObject } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { newId } from "../ids.ts";
import { mergeMetadata, optNullableStr, type Params, reqStr } from "../params.ts";
import { wire } from "../store.ts";

interface TransactionSeed {
  amount: number;
  currency: string;
  type: Stripe.CustomerBalanceTransaction.Type;
  invoice: string | null;
  description: string | null;
  metadata: Record<string, string> | null;
}

/**
 * Records one entry of the customer's balance ledger and moves `customer.balance` by its amount
 * (negative = credit the customer can spend, positive = debit added to the next invoice).
 * Stripe sends `customer.updated` with the old balance.
 */
export function recordBalanceTransaction(
  ctx: Ctx,
  customer: Stripe.Customer,
  seed: TransactionSeed,
): Stripe.CustomerBalanceTransaction {
  const before = wire(customer);
  customer.balance += seed.amount;
  // The first balance entry fixes the customer's currency, as a first subscription does.
  customer.currency = customer.currency ?? seed.currency;
  const txn: Stripe.CustomerBalanceTransaction = {
    id: newId("cbtxn"),
    object: "customer_balance_transaction",
    amount: seed.amount,
    checkout_session: null,
    created: ctx.now(customer.id),
    credit_note: null,
    currency: seed.currency,
    customer: customer.id,
    customer_account: null,
    description: seed.description,
    ending_balance: customer.balance,
    invoice: seed.invoice,
    livemode: false,
    metadata: seed.metadata,
    type: seed.type,
  };
  ctx.state.balanceTransactions[txn.id] = txn;
  const previous = previousAttributes(before, customer);
  if (previous) ctx.emit("customer.updated", customer, { previous, customerId: customer.id });
  return txn;
}

/**
 * What a draft shows before finalization: the current balance as `starting_balance` and the
 * amount due once it is applied; `ending_balance` stays null until the invoice is finalized.
 */
export function previewBalance(inv: Stripe.Invoice, balance: number): void {
  inv.starting_balance = balance;
  inv.amount_due = Math.max(0, inv.total + balance);
  inv.amount_remaining = inv.amount_due;
}

/**
 * At finalization the balance is applied: a credit lowers `amount_due` (never below 0), a debit
 * raises it, and a negative total is left as credit for the next invoice. The ledger records the
 * movement as `applied_to_invoice` (negative for a credit the invoice created).
 */
export function applyCustomerBalance(ctx: Ctx, inv: Stripe.Invoice, customerId: string): void {
  const customer = ctx.state.customers[customerId];
  // A customer's first invoice fixes its currency; its balance is kept in that currency.
  if (customer && customer.currency === null) customer.currency = inv.currency;
  const starting = customer?.balance ?? 0;
  previewBalance(inv, starting);
  inv.ending_balance = Math.min(0, inv.total + starting);
  const moved = inv.ending_balance - starting;
  if (customer && moved !== 0) {
    recordBalanceTransaction(ctx, customer, {
      amount: moved,
      currency: inv.currency,
      type: "applied_to_invoice",
      invoice: inv.id,
      description: null,
      metadata: null,
    });
  }
}

/** Voiding a finalized invoice gives back what it took from (or left on) the balance. */
export function unapplyCustomerBalance(ctx: Ctx, inv: Stripe.Invoice, customerId: string): void {
  const customer = ctx.state.customers[customerId];
  if (!customer || inv.ending_balance === null) return;
  const moved = inv.starting_balance - inv.ending_balance;
  if (moved === 0) return;
  recordBalanceTransaction(ctx, customer, {
    amount: moved,
    currency: inv.currency,
    type: "unapplied_from_invoice",
    invoice: inv.id,
    description: null,
    metadata: null,
  });
}

/** `POST /v1/customers/{id}/balance_transactions`: an `adjustment` made by the account. */
export function createAdjustment(
  ctx: Ctx,
  customer: Stripe.Customer,
  p: Params,
): Stripe.CustomerBalanceTransaction {
  const rawAmount = reqStr(p, "amount");
  const amount = Number(rawAmount);
  if (!Number.isInteger(amount)) throw invalidParam("amount", `Invalid integer: ${rawAmount}`);
  if (amount === 0) throw invalidParam("amount", "The amount must be a non-zero integer.");
  const currency = reqStr(p, "currency").toLowerCase();
  if (customer.currency !== null && customer.currency !== currency) {
    throw invalidRequest(
      `The currency ${currency} does not match the customer's currency ${customer.currency}.`,
      "currency",
    );
  }
  const metadata = mergeMetadata({}, p);
  return recordBalanceTransaction(ctx, customer, {
    amount,
    currency,
    type: "adjustment",
    invoice: null,
    description: optNullableStr(p, "description") ?? null,
    metadata,
  });
}

export function balanceTransactionsOf(
  ctx: Ctx,
  customerId: string,
): Stripe.CustomerBalanceTransaction[] {
  return Object.values(ctx.state.balanceTransactions).filter((t) => t.customer === customerId);
}

export function getBalanceTransaction(
  ctx: Ctx,
  customerId: string,
  id: string,
): Stripe.CustomerBalanceTransaction {
  const txn = ctx.state.balanceTransactions[id];
  if (!txn || txn.customer !== customerId) throw noSuchObject(id);
  return txn;
}
