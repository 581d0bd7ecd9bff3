import type Stripe from "stripe";
import {
  balanceTransactionsOf,
  createAdjustment,
  getBalanceTransaction,
} from "../billing/balance.ts";
import { cancelSubscriptionNow } from "../billing/lifecycle.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, noSuchObject } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { newId } from "../ids.ts";
import { paginate } from "../lists.ts";
import {
  expandList,
  mergeMetadata,
  optNullableStr,
  optObj,
  optStr,
  type Params,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";
import { attachPaymentMethod, requireAttachedPm } from "./payment-methods.ts";

export function getCustomer(ctx: Ctx, id: string, param = "id"): Stripe.Customer {
  const c = ctx.state.customers[id];
  if (!c) throw noSuchObject(id, param);
  return c;
}

function buildCustomer(p: Params, testClock: string | null): Stripe.Customer {
  return {
    id: newId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: 0,
    currency: null,
    default_source: null,
    delinquent: false,
    description: optStr(p, "description") ?? null,
    discount: null,
    email: optStr(p, "email") ?? null,
    invoice_prefix: newId("x").slice(2, 10).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: mergeMetadata({}, p),
    name: optStr(p, "name") ?? null,
    next_invoice_sequence: 1,
    phone: optStr(p, "phone") ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: testClock,
  };
}

export function createCustomer(ctx: Ctx, p: Params): Stripe.Customer {
  const clock = optStr(p, "test_clock") ?? null;
  if (clock && !ctx.state.testClocks[clock]) throw noSuchObject(clock, "test_clock");
  const customer = buildCustomer(p, clock);
  ctx.state.customers[customer.id] = customer;
  customer.created = ctx.now(customer.id);
  const pm = optStr(p, "payment_method");
  if (pm) attachPaymentMethod(ctx, pm, customer.id);
  const settings = optObj(p, "invoice_settings");
  const dpm = settings ? optStr(settings, "default_payment_method") : undefined;
  if (dpm) {
    customer.invoice_settings.default_payment_method = requireAttachedPm(ctx, dpm, customer.id).id;
  }
  ctx.emit("customer.created", customer, { customerId: customer.id });
  return customer;
}

/** Applies an update and emits `customer.updated` with what changed. */
export function updateCustomer(ctx: Ctx, id: string, p: Params): Stripe.Customer {
  const customer = getCustomer(ctx, id);
  const before = wire(customer);
  for (const key of ["email", "name", "description", "phone"] as const) {
    const v = optNullableStr(p, key);
    if (v !== undefined) customer[key] = v;
  }
  customer.metadata = mergeMetadata(customer.metadata, p);
  const settings = optObj(p, "invoice_settings");
  if (settings) {
    const dpm = optNullableStr(settings, "default_payment_method");
    if (dpm === null) customer.invoice_settings.default_payment_method = null;
    else if (dpm !== undefined) {
      customer.invoice_settings.default_payment_method = requireAttachedPm(ctx, dpm, id).id;
    }
  }
  if (optStr(p, "test_clock") !== undefined) {
    throw invalidParam("test_clock", "A customer's test clock cannot be changed after creation.");
  }
  const previous = previousAttributes(before, customer);
  if (previous) ctx.emit("customer.updated", customer, { previous, customerId: id });
  return customer;
}

function deleteCustomer(ctx: Ctx, id: string): Stripe.DeletedCustomer {
  const customer = getCustomer(ctx, id);
  for (const sub of Object.values(ctx.state.subscriptions)) {
    if (sub.customer === id && sub.status !== "canceled" && sub.status !== "incomplete_expired") {
      cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    }
  }
  ctx.emit("customer.deleted", customer, { customerId: id });
  delete ctx.state.customers[id];
  const deleted: Stripe.DeletedCustomer = { id, object: "customer", deleted: true };
  ctx.state.deletedCustomers[id] = deleted;
  return deleted;
}

export const customerRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/customers",
    handler: ({ ctx, params }) =>
      render(ctx.state, createCustomer(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/customers/:id",
    handler: ({ ctx, params, args }) => {
      const id = args.id ?? "";
      const deleted = ctx.state.deletedCustomers[id];
      if (deleted) return deleted;
      return render(ctx.state, getCustomer(ctx, id), expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/customers/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updateCustomer(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "DELETE",
    path: "/v1/customers/:id",
    handler: ({ ctx, args }) => deleteCustomer(ctx, args.id ?? ""),
  },
  {
    method: "GET",
    path: "/v1/customers/:id/balance_transactions",
    handler: ({ ctx, params, args }) => {
      const customer = getCustomer(ctx, args.id ?? "");
      const url = `/v1/customers/${customer.id}/balance_transactions`;
      const all = balanceTransactionsOf(ctx, customer.id);
      return render(ctx.state, paginate(all, params, url), expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/customers/:id/balance_transactions",
    handler: ({ ctx, params, args }) => {
      const customer = getCustomer(ctx, args.id ?? "");
      return render(ctx.state, createAdjustment(ctx, customer, params), expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/customers/:id/balance_transactions/:txn",
    handler: ({ ctx, params, args }) => {
      const customer = getCustomer(ctx, args.id ?? "");
      const txn = getBalanceTransaction(ctx, customer.id, args.txn ?? "");
      return render(ctx.state, txn, expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/customers",
    handler: ({ ctx, params }) => {
      const email = optStr(params, "email");
      const clock = optStr(params, "test_clock");
      const all = Object.values(ctx.state.customers).filter(
        (c) =>
          (email === undefined || c.email === email) &&
          (clock === undefined || c.test_clock === clock),
      );
      return render(ctx.state, paginate(all, params, "/v1/customers"), expandList(params));
    },
  },
];
