import type Stripe from "stripe";
import {
  arr,
  bool,
  emptyable,
  int,
  metadata,
  obj,
  oneOf,
  pagination,
  type Shape,
  shape,
  str,
} from "./schema.ts";

const interval = oneOf<Stripe.PriceCreateParams.Recurring.Interval>("day", "month", "week", "year");

/** Products and prices. */
export const catalogDeclarations: Record<string, Shape> = {
  "POST /v1/products": shape<Stripe.ProductCreateParams>({
    active: bool,
    description: str,
    id: str,
    marketing_features: arr(obj<Stripe.ProductCreateParams.MarketingFeature>({ name: str })),
    metadata,
    name: str,
  }),
  "GET /v1/products/:id": shape<Stripe.ProductRetrieveParams>({}),
  "POST /v1/products/:id": shape<Stripe.ProductUpdateParams>({
    active: bool,
    default_price: str,
    description: emptyable(str),
    marketing_features: emptyable(
      arr(obj<Stripe.ProductUpdateParams.MarketingFeature>({ name: str })),
    ),
    metadata,
    name: str,
  }),
  "GET /v1/products": shape<Stripe.ProductListParams>({
    ...pagination,
    active: bool,
  }),
  "POST /v1/prices": shape<Stripe.PriceCreateParams>({
    active: bool,
    currency: str,
    lookup_key: str,
    metadata,
    nickname: str,
    product: str,
    product_data: obj<Stripe.PriceCreateParams.ProductData>({
      active: bool,
      id: str,
      metadata,
      name: str,
    }),
    recurring: obj<Stripe.PriceCreateParams.Recurring>({
      interval,
      interval_count: int,
      trial_period_days: int,
    }),
    transfer_lookup_key: bool,
    unit_amount: int,
  }),
  "GET /v1/prices/:id": shape<Stripe.PriceRetrieveParams>({}),
  "POST /v1/prices/:id": shape<Stripe.PriceUpdateParams>({
    active: bool,
    lookup_key: str,
    metadata,
    nickname: str,
    transfer_lookup_key: bool,
  }),
  "GET /v1/prices": shape<Stripe.PriceListParams>({
    ...pagination,
    active: bool,
    currency: str,
    lookup_keys: arr(str),
    product: str,
    recurring: obj<Stripe.PriceListParams.Recurring>({ interval }),
    type: oneOf<Stripe.PriceListParams.Type>("one_time", "recurring"),
  }),
};
