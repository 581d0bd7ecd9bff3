import type { Config } from "../../config.ts";

/** STOREFRONT, and when it is unset: on everywhere but in production. */
export function storefrontOn(config: Pick<Config, "STOREFRONT" | "isProduction">): boolean {
  return config.STOREFRONT ?? !config.isProduction;
}

/**
 * The return-URL settings (Checkout's success and cancel pages, the portal's return) for one
 * request. With the storefront on, the server that answers the request is itself a front end, so
 * its own origin (the Host the request reached, vetted by ALLOWED_HOSTS in production) joins
 * FRONTEND_URL's and CORS_ALLOWED_ORIGINS.
 */
export function returnOrigins<
  C extends Pick<Config, "STOREFRONT" | "isProduction" | "CORS_ALLOWED_ORIGINS">,
>(config: C, request: { protocol: string; host: string }): C {
  if (!storefrontOn(config)) return config;
  const own = `${request.protocol}://${request.host}`;
  return { ...config, CORS_ALLOWED_ORIGINS: [...config.CORS_ALLOWED_ORIGINS, own] };
}
