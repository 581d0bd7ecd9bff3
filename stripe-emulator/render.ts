import {
  cannotExpand,
  expandableAt,
  MAX_EXPAND_DEPTH,
  tooDeep,
} from "./declarations/expandable.ts";
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
  "checkout.session": {
    line_items: (state, session) => {
      const id = String(session.id);
      const items = state.checkoutLineItems[id] ?? [];
      const url = `/v1/checkout/sessions/${id}/line_items`;
      return { object: "list", data: items.slice(0, 10), has_more: items.length > 10, url };
    },
  },
  // Stripe returns a coupon's `applies_to` only when it is expanded.
  coupon: { applies_to: (state, coupon) => state.couponAppliesTo[String(coupon.id)] ?? null },
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

/** A copy of a stored object in response form, with `expand` paths resolved. */
export function render(state: State, obj: object, expand: string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = wire({ ...obj });
  for (const path of expand) expandPath(state, copy, path.split("."), path, 0);
  return copy;
}

/**
 * Expands `segs` inside `obj`: `data` steps into a list's items; otherwise the longest field
 * path declared expandable for the object's type (declarations/expandable.ts) is resolved and
 * the rest of the path continues inside the expanded object. Stripe counts levels of
 * expansion, not dots, against its limit of 4.
 */
function expandPath(
  state: State,
  obj: Record<string, unknown>,
  segs: string[],
  path: string,
  depth: number,
): void {
  const [head] = segs;
  if (head === undefined) return;
  if (obj.object === "list" && head === "data" && Array.isArray(obj.data)) {
    for (const item of obj.data)
      if (isRecord(item)) expandPath(state, item, segs.slice(1), path, depth);
    return;
  }
  const type = typeof obj.object === "string" ? obj.object : "";
  const match = expandableAt(type, segs)?.fields;
  if (!match) throw cannotExpand(head, obj.object === "list");
  if (depth + 1 > MAX_EXPAND_DEPTH) throw tooDeep(path);
  const rest = segs.slice(match.length);
  at(obj, match, (holder, key) => {
    const includer = match.length === 1 ? INCLUDABLE[type]?.[key] : undefined;
    let value = holder[key];
    if (includer && value === undefined) value = wire(includer(state, obj));
    if (typeof value === "string") {
      const found = lookupAny(state, value);
      if (found) value = wire(found);
    }
    // A list of ids (`discounts`) expands id by id.
    if (Array.isArray(value)) {
      value = value.map((v) => (typeof v === "string" ? wire(lookupAny(state, v) ?? v) : v));
    }
    holder[key] = value;
    if (isRecord(value)) expandPath(state, value, rest, path, depth + 1);
    if (Array.isArray(value)) {
      for (const v of value) if (isRecord(v)) expandPath(state, v, rest, path, depth + 1);
    }
  });
}

/** Calls `fn` with the object holding the last field of `fields`, stepping into lists' items. */
function at(
  node: Record<string, unknown>,
  fields: string[],
  fn: (holder: Record<string, unknown>, key: string) => void,
): void {
  const [head, ...rest] = fields;
  if (head === undefined) return;
  if (rest.length === 0) {
    fn(node, head);
    return;
  }
  if (head === "data" && Array.isArray(node.data)) {
    for (const item of node.data) if (isRecord(item)) at(item, rest, fn);
    return;
  }
  const next = node[head];
  if (isRecord(next)) at(next, rest, fn);
}
