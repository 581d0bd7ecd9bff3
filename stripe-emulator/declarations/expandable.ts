import { invalidRequest } from "../errors.ts";

/**
 * The fields each object type lets `expand` resolve, and what each becomes: ids that can become
 * their object (`string | Stripe.X` in the SDK's types) and includable fields Stripe only returns
 * when expanded. A dotted entry names a field inside a nested object or list
 * (`invoice_settings.default_payment_method`, `items.data.price.product`). `list:x` is a list of
 * `x`; `*` is an object the emulator does not model further. A path outside this table is
 * refused with Stripe's "This property cannot be expanded".
 */
export const EXPANDABLE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  customer: {
    default_source: "*",
    "invoice_settings.default_payment_method": "payment_method",
    subscriptions: "list:subscription",
    test_clock: "test_helpers.test_clock",
  },
  customer_balance_transaction: { customer: "customer", invoice: "invoice" },
  payment_method: { customer: "customer" },
  product: { default_price: "price" },
  price: { product: "product" },
  subscription: {
    application: "*",
    customer: "customer",
    default_payment_method: "payment_method",
    default_source: "*",
    discounts: "discount",
    "items.data.price.product": "product",
    latest_invoice: "invoice",
    pending_setup_intent: "setup_intent",
    schedule: "subscription_schedule",
    test_clock: "test_helpers.test_clock",
  },
  subscription_item: { "price.product": "product" },
  subscription_schedule: {
    application: "*",
    customer: "customer",
    "default_settings.default_payment_method": "payment_method",
    subscription: "subscription",
    test_clock: "test_helpers.test_clock",
  },
  invoice: {
    confirmation_secret: "*",
    customer: "customer",
    discounts: "discount",
    default_payment_method: "payment_method",
    default_source: "*",
    payments: "list:invoice_payment",
    test_clock: "test_helpers.test_clock",
  },
  invoiceitem: { customer: "customer", invoice: "invoice", test_clock: "test_helpers.test_clock" },
  invoice_payment: {
    invoice: "invoice",
    "payment.charge": "charge",
    "payment.payment_intent": "payment_intent",
  },
  payment_intent: {
    customer: "customer",
    latest_charge: "charge",
    payment_method: "payment_method",
  },
  charge: { balance_transaction: "*", customer: "customer", payment_intent: "payment_intent" },
  refund: { balance_transaction: "*", charge: "charge", payment_intent: "payment_intent" },
  "checkout.session": {
    customer: "customer",
    invoice: "invoice",
    line_items: "list:item",
    payment_intent: "payment_intent",
    setup_intent: "setup_intent",
    subscription: "subscription",
  },
  item: { "price.product": "product" },
  setup_intent: {
    application: "*",
    customer: "customer",
    latest_attempt: "setup_attempt",
    mandate: "*",
    on_behalf_of: "*",
    payment_method: "payment_method",
    single_use_mandate: "*",
  },
  setup_attempt: {
    application: "*",
    customer: "customer",
    on_behalf_of: "*",
    payment_method: "payment_method",
    setup_intent: "setup_intent",
  },
  "billing_portal.session": { configuration: "*" },
  coupon: { applies_to: "*" },
  promotion_code: { customer: "customer", "promotion.coupon": "coupon" },
  discount: { customer: "customer", promotion_code: "promotion_code", "source.coupon": "coupon" },
};

export const MAX_EXPAND_DEPTH = 4;

/** The longest declared field path of `type` that `segs` starts with, and what it becomes. */
export function expandableAt(
  type: string,
  segs: readonly string[],
): { fields: string[]; target: string } | undefined {
  const matches = Object.entries(EXPANDABLE[type] ?? {})
    .map(([path, target]) => ({ fields: path.split("."), target }))
    .filter(({ fields }) => fields.length <= segs.length && fields.every((f, i) => f === segs[i]));
  return matches.sort((a, b) => b.fields.length - a.fields.length)[0];
}

export function cannotExpand(field: string, onList: boolean) {
  const hint = onList ? ` You may want to try expanding 'data.${field}' instead.` : "";
  return invalidRequest(`This property cannot be expanded (${field}).${hint}`, "expand");
}

export function tooDeep(path: string) {
  return invalidRequest(
    `You cannot expand more than ${MAX_EXPAND_DEPTH} levels of a property. Property: ${path}`,
    "expand",
  );
}

/**
 * Checks `expand` paths against the type an endpoint returns, before the endpoint runs, as
 * Stripe does: a write with a bad `expand` changes nothing.
 */
export function checkExpand(returns: string, paths: readonly string[]): void {
  for (const path of paths) walk(returns, path.split("."), path, 0);
}

function walk(type: string, segs: string[], path: string, depth: number): void {
  const [head] = segs;
  if (head === undefined || type === "*") return;
  if (type.startsWith("list:")) {
    if (head !== "data") throw cannotExpand(head, true);
    walk(type.slice(5), segs.slice(1), path, depth);
    return;
  }
  const found = expandableAt(type, segs);
  if (!found) throw cannotExpand(head, false);
  if (depth + 1 > MAX_EXPAND_DEPTH) throw tooDeep(path);
  walk(found.target, segs.slice(found.fields.length), path, depth + 1);
}
