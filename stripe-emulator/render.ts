import { invalidRequest } from "./errors.ts";
import { isRecord } from "./params.ts";
import { lookupAny, type State, wire } from "./store.ts";

/**
 * Includable fields are not stored on the object: Stripe returns them only when expanded
 * (`invoice.confirmation_secret`, `invoice.payments`, `customer.subscriptions`).
 */
type Includer = (state: State, obj: Record<string, unknown>) => unknown;

const INCLUDABLE: Record<string, Record<string, Includer>> = {
  invoice: {
    confirmation_secret: (state, inv) => {
      const payment = Object.values(state.invoicePayments).find(
        (p) => p.invoice === inv.id && p.is_default,
      );
      const piId = payment?.payment.payment_intent;
      const pi = typeof piId === "string" ? state.paymentIntents[piId] : undefined;
      if (!pi?.client_secret) return null;
      return { client_secret: pi.client_secret, type: "payment_intent" };
    },
    payments: (state, inv) => {
      const data = Object.values(state.invoicePayments).filter((p) => p.invoice === inv.id);
      return { object: "list", data, has_more: false, url: `/v1/invoice_payments` };
    },
  },
  customer: {
    subscriptions: (state, cus) => {
      const data = Object.values(state.subscriptions)
        .filter((s) => s.customer === cus.id && s.status !== "canceled")
        .reverse();
      return {
        object: "list",
        data,
        has_more: false,
        url: `/v1/customers/${cus.id}/subscriptions`,
      };
    },
  },
};

const MAX_DEPTH = 4;

/** A copy of a stored object in response form, with `expand` paths resolved. */
export function render(state: State, obj: object, expand: string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = wire({ ...obj });
  const paths = expand.map((p) => p.split("."));
  for (const p of paths) {
    if (p.length > MAX_DEPTH) {
      throw invalidRequest(
        `You cannot expand more than ${MAX_DEPTH} levels of a property. Property: ${p.join(".")}`,
        "expand",
      );
    }
  }
  expandInto(state, copy, paths);
  return copy;
}

function expandInto(state: State, obj: Record<string, unknown>, paths: string[][]): void {
  const byHead = new Map<string, string[][]>();
  for (const [head, ...rest] of paths) {
    if (head === undefined) continue;
    const list = byHead.get(head) ?? [];
    if (rest.length > 0) list.push(rest);
    byHead.set(head, list);
  }
  for (const [head, rest] of byHead) {
    if (head === "data" && obj.object === "list" && Array.isArray(obj.data)) {
      for (const item of obj.data) if (isRecord(item)) expandInto(state, item, rest);
      continue;
    }
    obj[head] = expandValue(state, obj, head, rest);
  }
}

function expandValue(
  state: State,
  obj: Record<string, unknown>,
  key: string,
  rest: string[][],
): unknown {
  const type = typeof obj.object === "string" ? obj.object : "";
  const includer = INCLUDABLE[type]?.[key];
  let value = includer ? wire(includer(state, obj)) : obj[key];
  if (value === undefined && !(key in obj)) {
    throw invalidRequest(
      `This property cannot be expanded (${key}). You may want to try expanding 'data.${key}' instead.`,
      "expand",
    );
  }
  if (typeof value === "string") {
    const found = lookupAny(state, value);
    if (found) value = wire(found);
  }
  if (isRecord(value) && rest.length > 0) expandInto(state, value, rest);
  return value;
}
