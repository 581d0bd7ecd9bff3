import Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, noSuchObject } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { newId } from "../ids.ts";
import { paginate } from "../lists.ts";
import {
  expandList,
  isRecord,
  mergeMetadata,
  optArr,
  optBool,
  optEnum,
  optInt,
  optNullableStr,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";

export function getProduct(ctx: Ctx, id: string, param = "id"): Stripe.Product {
  const p = ctx.state.products[id];
  if (!p) throw noSuchObject(id, param);
  return p;
}

export function getPrice(ctx: Ctx, id: string, param = "price"): Stripe.Price {
  const p = ctx.state.prices[id];
  if (!p) throw noSuchObject(id, param);
  return p;
}

function createProduct(ctx: Ctx, p: Params): Stripe.Product {
  const now = ctx.now();
  const product: Stripe.Product = {
    id: optStr(p, "id") ?? newId("prod"),
    object: "product",
    active: optBool(p, "active") ?? true,
    created: now,
    default_price: null,
    description: optStr(p, "description") ?? null,
    images: [],
    livemode: false,
    marketing_features: marketingFeaturesOf(p) ?? [],
    metadata: mergeMetadata({}, p),
    name: reqStr(p, "name"),
    package_dimensions: null,
    shippable: null,
    tax_code: null,
    tax_details: null,
    type: "service",
    unit_label: null,
    updated: now,
    url: null,
  };
  if (ctx.state.products[product.id]) {
    throw invalidRequest(`Product already exists.`, "id", "resource_already_exists");
  }
  ctx.state.products[product.id] = product;
  ctx.emit("product.created", product);
  return product;
}

function updateProduct(ctx: Ctx, id: string, p: Params): Stripe.Product {
  const product = getProduct(ctx, id);
  const before = wire(product);
  const active = optBool(p, "active");
  if (active !== undefined) product.active = active;
  const name = optStr(p, "name");
  if (name) product.name = name;
  const description = optNullableStr(p, "description");
  if (description !== undefined) product.description = description;
  const features = marketingFeaturesOf(p);
  if (features) product.marketing_features = features;
  const defaultPrice = optStr(p, "default_price");
  if (defaultPrice) product.default_price = getPrice(ctx, defaultPrice, "default_price").id;
  product.metadata = mergeMetadata(product.metadata, p);
  product.updated = ctx.now();
  const previous = previousAttributes(before, product);
  if (previous) ctx.emit("product.updated", product, { previous });
  return product;
}

/** `marketing_features[i][name]`: the feature list a pricing page shows. */
function marketingFeaturesOf(p: Params): Stripe.Product.MarketingFeature[] | undefined {
  const raw = optArr(p, "marketing_features");
  if (!raw) return undefined;
  return raw.map((entry, i) => {
    const name = isRecord(entry) ? optStr(entry, "name") : undefined;
    if (!name) throw invalidParam(`marketing_features[${i}][name]`, "Missing required param.");
    return { name };
  });
}

function recurringOf(p: Params): Stripe.Price.Recurring | null {
  const r = optObj(p, "recurring");
  if (!r) return null;
  const interval = optEnum(r, "interval", ["day", "week", "month", "year"] as const);
  if (!interval)
    throw invalidParam("recurring[interval]", "Missing required param: recurring[interval].");
  return {
    interval,
    interval_count: optInt(r, "interval_count") ?? 1,
    meter: null,
    trial_period_days: optInt(r, "trial_period_days") ?? null,
    usage_type: "licensed",
  };
}

function productFor(ctx: Ctx, p: Params): string {
  const data = optObj(p, "product_data");
  if (data) return createProduct(ctx, data).id;
  return getProduct(ctx, reqStr(p, "product"), "product").id;
}

function createPrice(ctx: Ctx, p: Params): Stripe.Price {
  const unitAmount = optInt(p, "unit_amount");
  if (unitAmount === undefined || unitAmount < 0) {
    throw invalidParam("unit_amount", "Missing required param: unit_amount.");
  }
  const recurring = recurringOf(p);
  const lookupKey = optStr(p, "lookup_key") ?? null;
  if (lookupKey) claimLookupKey(ctx, lookupKey, optBool(p, "transfer_lookup_key") ?? false);
  const price: Stripe.Price = {
    id: newId("price"),
    object: "price",
    active: optBool(p, "active") ?? true,
    billing_scheme: "per_unit",
    created: ctx.now(),
    currency: reqStr(p, "currency").toLowerCase(),
    custom_unit_amount: null,
    livemode: false,
    lookup_key: lookupKey,
    metadata: mergeMetadata({}, p),
    nickname: optStr(p, "nickname") ?? null,
    product: productFor(ctx, p),
    recurring,
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? "recurring" : "one_time",
    unit_amount: unitAmount,
    unit_amount_decimal: Stripe.Decimal.from(unitAmount),
  };
  ctx.state.prices[price.id] = price;
  ctx.emit("price.created", price);
  return price;
}

/** Lookup keys are unique; `transfer_lookup_key` moves one from its current price. */
function claimLookupKey(ctx: Ctx, key: string, transfer: boolean): void {
  const holder = Object.values(ctx.state.prices).find((pr) => pr.lookup_key === key);
  if (!holder) return;
  if (!transfer) {
    throw invalidRequest(`A price (\`${holder.id}\`) already uses that lookup key.`, "lookup_key");
  }
  holder.lookup_key = null;
}

function updatePrice(ctx: Ctx, id: string, p: Params): Stripe.Price {
  const price = getPrice(ctx, id, "id");
  const before = wire(price);
  const active = optBool(p, "active");
  if (active !== undefined) price.active = active;
  const nickname = optNullableStr(p, "nickname");
  if (nickname !== undefined) price.nickname = nickname;
  const lookupKey = optNullableStr(p, "lookup_key");
  if (lookupKey) claimLookupKey(ctx, lookupKey, optBool(p, "transfer_lookup_key") ?? false);
  if (lookupKey !== undefined) price.lookup_key = lookupKey;
  price.metadata = mergeMetadata(price.metadata, p);
  const previous = previousAttributes(before, price);
  if (previous) ctx.emit("price.updated", price, { previous });
  return price;
}

function listPrices(ctx: Ctx, p: Params): Stripe.Price[] {
  const active = optBool(p, "active");
  const product = optStr(p, "product");
  const type = optStr(p, "type");
  const currency = optStr(p, "currency");
  const lookupKeys = optArr(p, "lookup_keys")?.map(String);
  const interval = optStr(optObj(p, "recurring") ?? {}, "interval");
  return Object.values(ctx.state.prices).filter(
    (pr) =>
      (active === undefined || pr.active === active) &&
      (product === undefined || pr.product === product) &&
      (type === undefined || pr.type === type) &&
      (currency === undefined || pr.currency === currency) &&
      (interval === undefined || pr.recurring?.interval === interval) &&
      (lookupKeys === undefined || (pr.lookup_key !== null && lookupKeys.includes(pr.lookup_key))),
  );
}

export const catalogRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/products",
    handler: ({ ctx, params }) => render(ctx.state, createProduct(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/products/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getProduct(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/products/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updateProduct(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/products",
    handler: ({ ctx, params }) => {
      const active = optBool(params, "active");
      const all = Object.values(ctx.state.products).filter(
        (pr) => active === undefined || pr.active === active,
      );
      return render(ctx.state, paginate(all, params, "/v1/products"), expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/prices",
    handler: ({ ctx, params }) => render(ctx.state, createPrice(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/prices/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getPrice(ctx, args.id ?? "", "id"), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/prices/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updatePrice(ctx, args.id ?? "", params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/prices",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(listPrices(ctx, params), params, "/v1/prices"),
        expandList(params),
      ),
  },
];
