import type { Feature } from "../platform/feature.ts";
import { storefrontRoutes } from "./storefront-routes.ts";

/**
 * A small site at `/` over the public API only (docs/checkout-and-invoices.md, 'The storefront'):
 * sign up or in, the plans, Checkout, and an account page. STOREFRONT turns it on or off.
 */
export const storefront: Feature = {
  name: "storefront",
  routes: storefrontRoutes,
};
